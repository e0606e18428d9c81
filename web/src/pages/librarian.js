// For librarians: add a book (with its price and borrow fee), find a patron and waive a charge
// (pages/fees.js), and see who has what on loan.
import { newKey } from "../api.js";
import { focus, h, outcome, replace } from "../dom.js";
import { day, parseMoney } from "../format.js";
import { explain } from "../messages.js";
import { signInFirst } from "./account.js";
import { patronDesk } from "./fees.js";

const DRAFT = "library.draft.add-book";
const FIELDS = [
  { name: "title", label: "Title", attrs: { autocomplete: "off" } },
  { name: "author", label: "Author", attrs: { autocomplete: "off" } },
  { name: "isbn", label: "ISBN", hint: "10 or 13 digits, dashes allowed", attrs: { inputmode: "numeric", autocomplete: "off" } },
  { name: "price", label: "Price to buy", hint: "For example 12.99", attrs: { inputmode: "decimal", autocomplete: "off" } },
  { name: "borrow_fee", label: "Borrow fee", hint: "For example 1.99", attrs: { inputmode: "decimal", autocomplete: "off" } },
];
const API_FIELD = { price_cents: "price", borrow_fee_cents: "borrow_fee" };

export async function librarianPage(app, notice = null) {
  if (!app.auth.token()) return signInFirst(app, "Librarian", "Sign in with a librarian account.");
  if (!app.me || !app.me.is_librarian) {
    return [h("h1", {}, "Librarian"), h("p", { role: "alert" }, "This page is for librarians. Your account is not a librarian's.")];
  }
  let loans;
  let loansProblem = null;
  try {
    loans = await app.api.allLoans();
  } catch (error) {
    loansProblem = explain(error);
  }
  const draft = JSON.parse(window.sessionStorage.getItem(DRAFT) || "{}");
  window.sessionStorage.removeItem(DRAFT);
  const inputs = {};
  const errors = {};
  const formResult = h("div", { class: "result-slot" }, notice);
  const currency = h("select", { id: "currency", name: "currency" },
    ["usd", "eur", "gbp"].map((c) => h("option", { value: c, selected: (draft.currency || app.config.currency) === c }, c.toUpperCase())));

  const fields = FIELDS.map((field) => {
    const input = h("input", { id: field.name, name: field.name, type: "text", required: true,
      value: draft[field.name] || "", "aria-describedby": `${field.name}-hint ${field.name}-error`, ...field.attrs });
    inputs[field.name] = input;
    errors[field.name] = h("p", { id: `${field.name}-error`, class: "field-error" });
    return h("div", { class: "field" }, h("label", { for: field.name }, field.label),
      h("p", { id: `${field.name}-hint`, class: "hint" }, field.hint || ""), input, errors[field.name]);
  });

  const showErrors = (problems) => {
    for (const name of Object.keys(inputs)) {
      inputs[name].removeAttribute("aria-invalid");
      errors[name].textContent = "";
    }
    for (const [name, message] of Object.entries(problems)) {
      inputs[name].setAttribute("aria-invalid", "true");
      errors[name].textContent = message;
    }
    const first = FIELDS.find((field) => problems[field.name]);
    if (first) focus(inputs[first.name]);
  };

  const submit = h("button", { type: "submit" }, "Add book");
  let submitting = false;
  const form = h("form", { class: "panel", novalidate: true, "aria-labelledby": "add-heading",
    onsubmit: async (event) => {
      event.preventDefault();
      if (submitting) return;
      const value = (name) => inputs[name].value.trim();
      const problems = {};
      for (const field of FIELDS) if (!value(field.name)) problems[field.name] = `Please enter the ${field.label.toLowerCase()}.`;
      const price = parseMoney(value("price"));
      const fee = parseMoney(value("borrow_fee"));
      if (value("price") && price === null) problems.price = "Please enter the price as a number, like 12.99.";
      if (value("borrow_fee") && fee === null) problems.borrow_fee = "Please enter the fee as a number, like 1.99.";
      showErrors(problems);
      if (Object.keys(problems).length) return;
      submitting = true;
      submit.disabled = true;
      window.sessionStorage.setItem(DRAFT, JSON.stringify({ ...Object.fromEntries(FIELDS.map((f) => [f.name, value(f.name)])),
        currency: currency.value }));
      try {
        const book = await app.api.addBook({ title: value("title"), author: value("author"), isbn: value("isbn"),
          price_cents: price, borrow_fee_cents: fee, currency: currency.value }, newKey());
        window.sessionStorage.removeItem(DRAFT);
        app.refresh(outcome("success", h("p", {}, `Added “${book.title}” to the catalogue. `,
          h("a", { href: book.title_id ? `#/titles/${book.title_id}` : `#/books/${book.book_id}` }, "View it"))));
      } catch (error) {
        if (error.status !== 401) window.sessionStorage.removeItem(DRAFT);
        const field = error.problem && (API_FIELD[error.problem.field] || error.problem.field);
        if (error.status === 400 && inputs[field]) showErrors({ [field]: explain(error) });
        else {
          const problem = outcome("error", h("p", {}, explain(error)));
          replace(formResult, problem);
          focus(problem);
        }
      } finally {
        submitting = false;
        submit.disabled = false;
      }
    } },
  h("h2", { id: "add-heading" }, "Add a book"),
  fields,
  h("div", { class: "field" }, h("label", { for: "currency" }, "Currency"), currency),
  submit);

  const onLoan = loansProblem ? h("p", { role: "alert" }, loansProblem)
    : loans.items.length === 0 ? h("p", {}, "Nothing is on loan right now.")
      : h("div", { class: "table-wrap", role: "region", "aria-labelledby": "loans-heading", tabindex: "0" },
        h("table", {},
          h("thead", {}, h("tr", {}, ["Book", "Borrower", "Borrowed", "Due back"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, loans.items.map((loan) => h("tr", {},
            h("th", { scope: "row" }, h("a", { href: `#/books/${loan.book_id}` }, loan.title)),
            h("td", {}, loan.borrower ? loan.borrower.name || loan.borrower.sub : ""),
            h("td", {}, day(loan.borrowed_at)),
            h("td", {}, day(loan.due_at), new Date(loan.due_at) < new Date() ? " (overdue)" : ""))))));

  app.afterRender(() => { if (notice) focus(notice); });
  return [h("h1", {}, "Librarian"), formResult, form, patronDesk(app),
    h("section", { "aria-labelledby": "loans-heading" }, h("h2", { id: "loans-heading" }, "On loan now"), onLoan)];
}
