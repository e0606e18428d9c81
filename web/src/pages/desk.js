// The librarian's desk: check in by barcode (the field keeps focus for scanner after scanner, the outcome
// is shown big and read out), import a catalogue file and see its report, download each report as CSV.
import { newKey } from "../api.js";
import { focus, h, outcome, replace } from "../dom.js";
import { explain } from "../messages.js";
import { signInFirst } from "./account.js";
import { refundForm } from "./refund.js";

const REPORTS = [
  ["overdue", "Overdue loans"], ["hold-shelf", "Hold shelf"], ["revenue", "Revenue (today)"],
  ["circulation", "Circulation (today)"],
];
const TYPES = { mrc: "application/marc", marc: "application/marc", xml: "application/marcxml+xml", csv: "text/csv" };

function checkInForm(app) {
  const result = h("div", { class: "result-slot desk-outcome", "aria-live": "assertive" });
  const input = h("input", { id: "barcode", name: "barcode", type: "text", autocomplete: "off", required: true,
    "aria-describedby": "barcode-hint" });
  let busy = false;
  const form = h("form", { class: "panel", novalidate: true, "aria-labelledby": "checkin-heading",
    onsubmit: async (event) => {
      event.preventDefault();
      const barcode = input.value.trim();
      if (busy || !barcode) return focus(input);
      busy = true;
      try {
        const done = await app.api.checkIn(barcode, newKey());
        const where = done.action === "to_hold_shelf"
          ? `Put it on the hold shelf for ${done.hold_for.name || done.hold_for.sub}, until ${new Date(done.ready_until).toLocaleDateString()}.`
          : "Put it back on the shelf.";
        replace(result, outcome("success", h("p", { class: "desk-action" }, `${barcode}: ${where}`)));
      } catch (error) {
        replace(result, outcome("error", h("p", { class: "desk-action" }, `${barcode}: ${explain(error)}`)));
      } finally {
        busy = false;
        input.value = "";
        focus(input); // ready for the next scan
      }
    } },
  h("h2", { id: "checkin-heading" }, "Check in"),
  h("div", { class: "field" }, h("label", { for: "barcode" }, "Barcode"),
    h("p", { id: "barcode-hint", class: "hint" }, "Scan or type the copy's barcode, then Enter"), input),
  h("button", { type: "submit" }, "Check in"));
  app.afterRender(() => focus(input));
  return [form, result];
}

function importForm(app) {
  const result = h("div", { class: "result-slot" });
  const file = h("input", { id: "catalogue-file", name: "file", type: "file", accept: ".mrc,.marc,.xml,.csv" });
  const form = h("form", { class: "panel", "aria-labelledby": "import-heading",
    onsubmit: async (event) => {
      event.preventDefault();
      const chosen = file.files && file.files[0];
      if (!chosen) return focus(file);
      const type = TYPES[chosen.name.split(".").pop().toLowerCase()] || chosen.type;
      try {
        const report = await app.api.importFile(await chosen.arrayBuffer(), type);
        replace(result, outcome("success",
          h("p", {}, `${report.records} records: ${report.created} created, ${report.updated} updated, `
            + `${report.unchanged} unchanged, ${report.rejected.length} rejected.`),
          report.rejected.length ? h("ul", {}, report.rejected.map((r) => h("li", {}, `Record ${r.record}: ${r.reason}`))) : null));
      } catch (error) {
        replace(result, outcome("error", h("p", {}, explain(error))));
      }
      focus(result.firstChild);
    } },
  h("h2", { id: "import-heading" }, "Import a catalogue"),
  h("div", { class: "field" }, h("label", { for: "catalogue-file" }, "MARC, MARCXML or CSV file"), file),
  h("button", { type: "submit" }, "Import"));
  return [form, result];
}

function reports(app) {
  const problem = h("div", { class: "result-slot" });
  const download = async (name) => {
    try {
      const text = await app.api.reportCsv(name);
      const link = h("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: `${name}.csv` });
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (error) {
      replace(problem, outcome("error", h("p", {}, explain(error))));
    }
  };
  return h("section", { "aria-labelledby": "reports-heading" }, h("h2", { id: "reports-heading" }, "Reports"),
    h("ul", {}, REPORTS.map(([name, label]) => h("li", {},
      h("button", { type: "button", onclick: () => download(name) }, `Download ${label} (CSV)`)))), problem);
}

export async function deskPage(app) {
  if (!app.auth.token()) return signInFirst(app, "Desk", "Sign in with a librarian account.");
  if (!app.me || !app.me.is_librarian) {
    return [h("h1", {}, "Desk"), h("p", { role: "alert" }, "This page is for librarians. Your account is not a librarian's.")];
  }
  return [h("h1", {}, "Desk"), ...checkInForm(app), ...importForm(app), ...refundForm(app), reports(app)];
}
