// My account's notices: what the library has told me (or kept for me, without an address), and the
// switch for due-soon reminders (overdue and hold-ready notices are always sent).
import { newKey } from "../api.js";
import { h, outcome, replace } from "../dom.js";
import { day } from "../format.js";
import { explain } from "../messages.js";

const KIND = {
  due_soon: "Due soon",
  overdue: "Overdue",
  hold_ready: "Ready on the hold shelf",
  lost_charged: "Lost copy charged",
  payment_receipt: "Payment receipt",
};
const STATE = {
  pending: "waiting to be sent",
  sending: "being sent",
  sent: "sent",
  failed: "could not be sent",
  no_address: "not sent: we have no email address for you",
};

function about(notice) {
  const d = notice.details || {};
  if (notice.kind === "hold_ready") return `“${d.title}” — pick it up by ${day(d.ready_until)}`;
  if (notice.kind === "due_soon" || notice.kind === "overdue") return `“${d.title}” — due ${day(d.due_at)}`;
  return d.title ? `“${d.title}”` : "";
}

export async function noticesSection(app) {
  let notices;
  let preferences;
  try {
    [notices, preferences] = await Promise.all([app.api.myNotices(), app.api.myPreferences()]);
  } catch (error) {
    return h("section", { "aria-labelledby": "notices-heading" }, h("h2", { id: "notices-heading" }, "Notices"),
      h("p", { role: "alert", class: "outcome outcome-error" }, explain(error)));
  }
  const said = h("div", { "aria-live": "polite" });
  const box = h("input", { type: "checkbox", id: "reminders-switch" });
  box.checked = preferences.reminders;
  box.addEventListener("change", async () => {
    box.disabled = true;
    try {
      const kept = await app.api.setReminders(box.checked, newKey());
      box.checked = kept.reminders;
      replace(said, outcome("success", h("p", {}, kept.reminders
        ? "You will get a reminder before a loan is due."
        : "No more due-soon reminders. Overdue and hold-ready notices still come.")));
    } catch (error) {
      box.checked = !box.checked;
      replace(said, outcome("error", h("p", {}, explain(error))));
    } finally {
      box.disabled = false;
    }
  });
  const list = notices.items.length
    ? h("ul", { class: "plain-list notice-list", "aria-labelledby": "notices-heading" }, notices.items.map((n) =>
      h("li", { class: `notice notice-${n.state}` }, h("strong", {}, KIND[n.kind] || n.kind), " ", about(n),
        ` · written ${day(n.created_at)} · `, h("span", { class: "notice-state" }, STATE[n.state] || n.state))))
    : h("p", {}, "No notices yet.");
  return h("section", { "aria-labelledby": "notices-heading" }, h("h2", { id: "notices-heading" }, "Notices"),
    h("p", {}, box, " ", h("label", { for: "reminders-switch" }, "Email me a reminder before a loan is due")),
    said, list);
}
