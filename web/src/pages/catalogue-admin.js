// For librarians: manage one title (#/titles/<id>/manage): edit the title (PATCH /titles/{id}), add copies
// (POST /titles/{id}/copies), change a copy's price, fee or barcode (PATCH /books/{id}) and withdraw a copy with
// a reason (POST /books/{id}/withdraw; a refusal, such as a copy on loan, is said in words next to the copy).
import { newKey } from "../api.js";
import { focus, h, outcome, replace } from "../dom.js";
import { availability, day, money, parseMoney } from "../format.js";
import { explain } from "../messages.js";
import { signInFirst } from "./account.js";

const WITHDRAW_REFUSED = {
  copy_on_loan: "This copy is on loan, so it cannot be withdrawn. Check it in when it comes back, then withdraw it.",
  on_hold_shelf: "This copy is on the hold shelf, waiting for a patron who placed a hold, so it cannot be withdrawn.",
  copy_sold: "This copy has been sold, so it cannot be withdrawn.",
  already_withdrawn: "This copy has been withdrawn already.",
};
const COPY_REFUSED = { duplicate_barcode: "Another copy already has that barcode. Please use a different one." };

function adminExplain(error, table = {}) {
  const reason = error && error.problem && error.problem.reason;
  if (error && error.status === 409 && table[reason]) return table[reason];
  if (error && error.status === 409 && COPY_REFUSED[reason]) return COPY_REFUSED[reason];
  return explain(error);
}

// One labelled field with its hint and its own error line (aria-describedby points at both).
function field(id, label, { hint = "", value = "", multiline = false, ...attrs } = {}) {
  const control = multiline
    ? h("textarea", { id, name: id, rows: 4, "aria-describedby": `${id}-hint ${id}-error`, ...attrs }, value)
    : h("input", { id, name: id, type: "text", autocomplete: "off", value, "aria-describedby": `${id}-hint ${id}-error`, ...attrs });
  const error = h("p", { id: `${id}-error`, class: "field-error" });
  const node = h("div", { class: "field" }, h("label", { for: id }, label),
    h("p", { id: `${id}-hint`, class: "hint" }, hint), control, error);
  return { node, control, error };
}

// Show each field's problem (or clear it); focus the first field with one. True when there was none.
function showProblems(fields, problems) {
  let first = null;
  for (const [name, f] of Object.entries(fields)) {
    const message = problems[name];
    f.error.textContent = message || "";
    if (message) f.control.setAttribute("aria-invalid", "true");
    else f.control.removeAttribute("aria-invalid");
    if (message && !first) first = f.control;
  }
  if (first) focus(first);
  return !first;
}

// A form whose submit runs `act` once at a time, with its button disabled meanwhile.
function busyForm(attrs, children, act) {
  let busy = false;
  const form = h("form", { ...attrs, novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      if (busy) return;
      busy = true;
      const buttons = form.querySelectorAll("button");
      buttons.forEach((b) => { b.disabled = true; });
      try {
        await act();
      } finally {
        busy = false;
        buttons.forEach((b) => { b.disabled = false; });
      }
    } }, children);
  return form;
}

function failed(slot, error, table) {
  const box = outcome("error", h("p", {}, adminExplain(error, table)));
  replace(slot, box);
  focus(box);
}

function titleForm(app, title, slot) {
  const f = {
    title: field("edit-title", "Title", { value: title.title }),
    author: field("edit-author", "Author", { value: title.author }),
    isbn: field("edit-isbn", "ISBN", { value: title.isbn, hint: "10 or 13 digits, dashes allowed", inputmode: "numeric" }),
    publication_year: field("edit-year", "Year published", { value: title.publication_year ? String(title.publication_year) : "",
      hint: "Optional, for example 1969", inputmode: "numeric" }),
    language: field("edit-language", "Language code", { value: title.language || "", hint: "Optional, for example en or fr" }),
    description: field("edit-description", "Description", { value: title.description || "", hint: "Optional", multiline: true }),
  };
  return busyForm({ class: "panel", "aria-labelledby": "edit-title-heading" }, [
    h("h2", { id: "edit-title-heading" }, "Edit the title"),
    Object.values(f).map((x) => x.node),
    h("button", { type: "submit" }, "Save title"),
  ], async () => {
    const value = (name) => f[name].control.value.trim();
    const problems = {};
    for (const name of ["title", "author", "isbn"]) if (!value(name)) problems[name] = `Please enter the ${name === "isbn" ? "ISBN" : name}.`;
    const year = value("publication_year");
    if (year && !/^\d{1,4}$/.test(year)) problems.publication_year = "Please enter the year as a number, like 1969.";
    const language = value("language").toLowerCase();
    if (language && !/^[a-z]{2,3}$/.test(language)) problems.language = "Please enter a two- or three-letter code, like en.";
    if (!showProblems(f, problems)) return;
    const wanted = { title: value("title"), author: value("author"), isbn: value("isbn"),
      publication_year: year ? Number(year) : null, language: language || null, description: value("description") || null };
    const changes = {};
    for (const [name, v] of Object.entries(wanted)) if (v !== (title[name] ?? null)) changes[name] = v;
    if (!Object.keys(changes).length) {
      const box = outcome("success", h("p", {}, "Nothing to save: the title is unchanged."));
      replace(slot, box);
      return focus(box);
    }
    try {
      const saved = await app.api.editTitle(title.title_id, changes, newKey());
      app.refresh(outcome("success", h("p", {}, `Saved “${saved.title}”.`)));
    } catch (error) {
      const field400 = error.problem && error.problem.field;
      if (error.status === 400 && f[field400]) showProblems(f, { [field400]: explain(error) });
      else failed(slot, error);
    }
  });
}

function addCopiesForm(app, title, currency, slot) {
  const f = {
    count: field("new-count", "How many copies", { value: "1", hint: "1 to 100", inputmode: "numeric" }),
    price: field("new-price", "Price to buy", { hint: "For example 12.99", inputmode: "decimal" }),
    fee: field("new-fee", "Borrow fee", { hint: "For example 1.99", inputmode: "decimal" }),
    barcode: field("new-barcode", "Barcode", { hint: "Optional, for one copy: letters, digits, dot, dash or underscore. Left empty, one is made up." }),
  };
  const sample = title.copies[0];
  if (sample) {
    f.price.control.value = (sample.price_cents / 100).toFixed(2);
    f.fee.control.value = (sample.borrow_fee_cents / 100).toFixed(2);
  }
  return busyForm({ class: "panel", "aria-labelledby": "add-copies-heading" }, [
    h("h2", { id: "add-copies-heading" }, "Add copies"),
    Object.values(f).map((x) => x.node),
    h("button", { type: "submit" }, "Add copies"),
  ], async () => {
    const value = (name) => f[name].control.value.trim();
    const problems = {};
    const count = Number(value("count"));
    if (!/^\d+$/.test(value("count")) || count < 1 || count > 100) problems.count = "Please enter a number from 1 to 100.";
    const price = parseMoney(value("price"));
    const fee = parseMoney(value("fee"));
    if (!price) problems.price = "Please enter the price as a number, like 12.99.";
    if (!fee) problems.fee = "Please enter the fee as a number, like 1.99.";
    const barcode = value("barcode");
    if (barcode && !/^[A-Za-z0-9._-]{1,64}$/.test(barcode)) problems.barcode = "Please use only letters, digits, dot, dash or underscore.";
    if (barcode && count > 1) problems.barcode = "A barcode belongs to one copy: leave it empty to add more than one.";
    if (!showProblems(f, problems)) return;
    const copy = { price_cents: price, borrow_fee_cents: fee, currency, ...(barcode ? { barcode } : {}) };
    try {
      const added = await app.api.addCopies(title.title_id, count === 1 ? copy : { copies: Array(count).fill(copy) }, newKey());
      const codes = added.items.map((c) => c.barcode).join(", ");
      app.refresh(outcome("success", h("p", {}, `Added ${added.items.length} ${added.items.length === 1 ? "copy" : "copies"} `
        + `(barcode${added.items.length === 1 ? "" : "s"} ${codes}).`)));
    } catch (error) {
      if (error.status === 409 && error.problem.reason === "duplicate_barcode") showProblems(f, { barcode: COPY_REFUSED.duplicate_barcode });
      else failed(slot, error);
    }
  });
}

function copySection(app, copy, index) {
  const n = index + 1;
  const slot = h("div", { class: "result-slot" });
  const state = availability(copy.status);
  const f = {
    price: field(`copy-${n}-price`, "Price to buy", { value: (copy.price_cents / 100).toFixed(2), inputmode: "decimal" }),
    fee: field(`copy-${n}-fee`, "Borrow fee", { value: (copy.borrow_fee_cents / 100).toFixed(2), inputmode: "decimal" }),
    barcode: field(`copy-${n}-barcode`, "New barcode", { hint: "Optional: left empty, the barcode stays as it is" }),
  };
  const edit = busyForm({ "aria-labelledby": `copy-${n}-edit-heading` }, [
    h("h4", { id: `copy-${n}-edit-heading` }, "Price, fee and barcode"),
    h("p", { class: "hint" }, "A change applies to loans and sales from now on; money already taken keeps its amount."),
    Object.values(f).map((x) => x.node),
    h("button", { type: "submit" }, `Save copy ${n}`),
  ], async () => {
    const value = (name) => f[name].control.value.trim();
    const problems = {};
    const price = parseMoney(value("price"));
    const fee = parseMoney(value("fee"));
    if (!price) problems.price = "Please enter the price as a number, like 12.99.";
    if (!fee) problems.fee = "Please enter the fee as a number, like 1.99.";
    const barcode = value("barcode");
    if (barcode && !/^[A-Za-z0-9._-]{1,64}$/.test(barcode)) problems.barcode = "Please use only letters, digits, dot, dash or underscore.";
    if (!showProblems(f, problems)) return;
    const changes = {};
    if (price !== copy.price_cents) changes.price_cents = price;
    if (fee !== copy.borrow_fee_cents) changes.borrow_fee_cents = fee;
    if (barcode) changes.barcode = barcode;
    try {
      const saved = await app.api.editCopy(copy.book_id, changes, newKey());
      app.refresh(outcome("success", h("p", {}, `Saved copy ${n}: price ${money(saved.price_cents, saved.currency)}, `
        + `borrow fee ${money(saved.borrow_fee_cents, saved.currency)}, barcode ${saved.barcode}.`)));
    } catch (error) {
      if (error.status === 409 && error.problem.reason === "duplicate_barcode") showProblems(f, { barcode: COPY_REFUSED.duplicate_barcode });
      else failed(slot, error);
    }
  });
  const reason = field(`copy-${n}-reason`, "Reason for withdrawing", { hint: "For example: damaged, lost by the library, superseded" });
  const withdraw = busyForm({ "aria-labelledby": `copy-${n}-withdraw-heading` }, [
    h("h4", { id: `copy-${n}-withdraw-heading` }, "Withdraw"),
    reason.node,
    h("button", { type: "submit", class: "secondary" }, `Withdraw copy ${n}`),
  ], async () => {
    if (!showProblems({ reason }, reason.control.value.trim() ? {} : { reason: "Please say why the copy is withdrawn." })) return;
    try {
      await app.api.withdrawCopy(copy.book_id, reason.control.value.trim(), newKey());
      app.refresh(outcome("success", h("p", {}, `Withdrew copy ${n}. It no longer counts as one of the title's copies.`)));
    } catch (error) {
      failed(slot, error, WITHDRAW_REFUSED);
    }
  });
  return h("section", { class: "panel copy-admin", "aria-labelledby": `copy-${n}-heading` },
    h("h3", { id: `copy-${n}-heading` }, h("a", { href: `#/books/${copy.book_id}` }, `Copy ${n}`), " — ",
      h("span", { class: `availability availability-${copy.status}` }, state.words),
      copy.status === "borrowed" && copy.due_at ? ` (due back ${day(copy.due_at)})` : ""),
    edit, withdraw, slot);
}

export async function manageTitlePage(app, titleId, notice = null) {
  if (!app.auth.token()) return signInFirst(app, "Manage a title", "Sign in with a librarian account.");
  if (!app.me || !app.me.is_librarian) {
    return [h("h1", {}, "Manage a title"), h("p", { role: "alert" }, "This page is for librarians. Your account is not a librarian's.")];
  }
  let title;
  try {
    title = await app.api.title(titleId);
  } catch (error) {
    return [h("h1", {}, "Manage a title"), h("p", { role: "alert" }, explain(error))];
  }
  const currency = (title.copies[0] && title.copies[0].currency) || app.config.currency || "usd";
  const slot = h("div", { class: "result-slot" }, notice);
  app.afterRender(() => { if (notice) focus(notice); });
  return [
    h("p", {}, h("a", { href: `#/titles/${title.title_id}` }, "← Back to the title")),
    h("h1", {}, `Manage “${title.title}”`),
    slot,
    titleForm(app, title, slot),
    addCopiesForm(app, title, currency, slot),
    h("section", { "aria-labelledby": "admin-copies-heading" },
      h("h2", { id: "admin-copies-heading" }, "Copies"),
      title.copies.length ? title.copies.map((copy, index) => copySection(app, copy, index))
        : h("p", {}, "The title has no copies. Add some above.")),
  ];
}
