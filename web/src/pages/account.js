// My account: what I have on loan now (with due dates, and a Return button), my loan history,
// and my purchases.
import { newKey } from "../api.js";
import { focus, h, outcome } from "../dom.js";
import { day } from "../format.js";
import { explain } from "../messages.js";

export async function accountPage(app, notice = null) {
  if (!app.auth.token()) return signInFirst(app, "My account", "Sign in to see your loans and purchases.");
  let loans;
  let purchases;
  try {
    [loans, purchases] = await Promise.all([app.api.myLoans(), app.api.myPurchases()]);
  } catch (error) {
    return [h("h1", {}, "My account"), h("p", { role: "alert", class: "outcome outcome-error" }, explain(error))];
  }
  const current = loans.items.filter((loan) => !loan.returned_at && !loan.closed_reason);
  const past = loans.items.filter((loan) => loan.returned_at || loan.closed_reason);
  const me = app.me || {};
  const onLoanHeading = h("h2", { id: "on-loan-heading", tabindex: "-1" }, "On loan now");

  const giveBack = async (loan, button) => {
    if (button.disabled) return;
    button.disabled = true;
    button.textContent = "Returning…";
    try {
      await app.api.giveBack(loan.book_id, newKey());
      app.refresh(outcome("success", h("p", {}, `Thank you — you have returned “${loan.title}”.`)));
    } catch (error) {
      app.refresh(outcome("error", h("p", {}, explain(error, "return"))));
    }
  };

  const onLoan = current.length
    ? h("ul", { class: "loan-list", "aria-labelledby": "on-loan-heading" }, current.map((loan) => {
      const button = h("button", { type: "button", "aria-label": `Return “${loan.title}”` }, "Return");
      button.addEventListener("click", () => giveBack(loan, button));
      const overdue = new Date(loan.due_at) < new Date();
      return h("li", { class: "loan" },
        h("h3", {}, h("a", { href: `#/books/${loan.book_id}` }, loan.title)),
        h("p", {}, `Borrowed ${day(loan.borrowed_at)}`),
        h("p", { class: overdue ? "due overdue" : "due" }, overdue ? "Overdue — was due back " : "Due back by ",
          h("strong", {}, day(loan.due_at))),
        button);
    }))
    : h("p", {}, "You have nothing on loan. ", h("a", { href: "#/" }, "Find a book to borrow."));

  const history = past.length
    ? h("ul", { class: "plain-list" }, past.map((loan) => h("li", {},
      h("a", { href: `#/books/${loan.book_id}` }, loan.title), ` — borrowed ${day(loan.borrowed_at)}, `,
      loan.returned_at ? `returned ${day(loan.returned_at)}` : "closed")))
    : h("p", {}, "No past loans yet.");
  const bought = purchases.items.length
    ? h("ul", { class: "plain-list" }, purchases.items.map((p) => h("li", {},
      h("a", { href: `#/books/${p.book_id}` }, p.title), ` — bought ${day(p.purchased_at)}`,
      p.reversed_at ? ` (refunded ${day(p.reversed_at)})` : "")))
    : h("p", {}, "You have not bought any books yet.");

  app.afterRender(() => { if (notice) focus(notice); });
  return [
    h("h1", {}, "My account"),
    h("p", {}, `Signed in as ${me.name || me.handle || me.sub || "you"}${me.email ? ` (${me.email})` : ""}.`),
    notice,
    h("section", { "aria-labelledby": "on-loan-heading" }, onLoanHeading, onLoan),
    h("section", { "aria-labelledby": "history-heading" }, h("h2", { id: "history-heading" }, "Loan history"), history),
    h("section", { "aria-labelledby": "purchases-heading" }, h("h2", { id: "purchases-heading" }, "Purchases"), bought),
  ];
}

export function signInFirst(app, title, why) {
  return [h("h1", {}, title), h("p", {}, why),
    h("button", { type: "button", onclick: () => app.auth.signIn() }, "Sign in")];
}
