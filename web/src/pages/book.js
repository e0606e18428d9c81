// One copy: status, fee and price; borrow or buy it with a card. Its title's page has all its copies.
import { cardForm } from "../card-form.js";
import { focus, h, outcome } from "../dom.js";
import { availability, day, money } from "../format.js";
import { explain } from "../messages.js";

export async function bookPage(app, bookId, notice = null) {
  let book;
  try {
    book = await app.api.book(bookId);
  } catch (error) {
    return [h("p", {}, h("a", { href: "#/" }, "← Back to the catalogue")), h("h1", {}, "Book not found"),
      h("p", { role: "alert" }, explain(error))];
  }
  const state = availability(book.status);
  const result = h("div", { class: "result-slot" }, notice);
  const details = h("dl", { class: "facts" },
    h("dt", {}, "Availability"),
    h("dd", { class: `availability availability-${book.status}` },
      h("span", { "aria-hidden": "true" }, state.icon), " ", state.words, h("span", { class: "hint" }, ` — ${state.hint}`)),
    h("dt", {}, "Borrow fee"), h("dd", {}, `${money(book.borrow_fee_cents, book.currency)} for ${app.loanDays} days`),
    h("dt", {}, "Price to buy"), h("dd", {}, money(book.price_cents, book.currency)),
    h("dt", {}, "ISBN"), h("dd", {}, book.isbn));

  let action = null;
  if (book.status === "available" && !app.auth.token()) {
    action = signInToPay(app);
  } else if (book.status === "available") {
    action = payForm(app, book, result);
  } else if (book.status === "borrowed" && app.auth.token()) {
    action = h("p", {}, "If you have borrowed it, you can return or renew it from ", h("a", { href: "#/account" }, "My account"), ".");
  }
  const allCopies = book.title_id
    ? h("p", {}, h("a", { href: `#/titles/${book.title_id}` }, "All copies of this title"),
      book.status === "available" ? "" : " — borrow another copy or place a hold")
    : null;
  app.afterRender(() => { if (notice) focus(notice); });
  return [
    h("p", {}, h("a", { href: "#/" }, "← Back to the catalogue")),
    h("h1", {}, book.title),
    h("p", { class: "author" }, `by ${book.author}`),
    details, result, action, allCopies,
  ];
}

export function signInToPay(app, { heading = "Borrow or buy", why = "borrow or buy this book",
  button = "Sign in to borrow or buy" } = {}) {
  return h("section", { class: "panel", "aria-labelledby": "pay-heading" },
    h("h2", { id: "pay-heading" }, heading),
    h("p", {}, `Sign in with your library account to ${why}.`),
    h("button", { type: "button", onclick: () => app.auth.signIn() }, button));
}

export function boughtMessage(title, done) {
  return outcome("success", h("h2", {}, "Thank you — the book is yours"),
    h("p", {}, `You bought “${title}” for ${money(done.payment.amount, done.payment.currency)}.`),
    h("p", {}, h("a", { href: "#/account" }, "See your purchases")));
}

export function borrowedMessage(title, done) {
  return outcome("success", h("h2", {}, "Enjoy your book"),
    h("p", {}, `You have borrowed “${title}”. Please return it by `, h("strong", { class: "due" }, day(done.due_at)), "."),
    h("p", {}, h("a", { href: "#/account" }, "See your loans")));
}

function payForm(app, book, result) {
  const { form, mount } = cardForm(app, {
    heading: "Borrow or buy", headingId: "pay-heading", result,
    actions: [
      { value: "borrow", label: `Borrow for ${money(book.borrow_fee_cents, book.currency)}` },
      { value: "buy", label: `Buy for ${money(book.price_cents, book.currency)}`, secondary: true },
    ],
    pay: async (what, paymentMethod, key) => (what === "buy"
      ? boughtMessage(book.title, await app.api.buy(book.book_id, paymentMethod, key))
      : borrowedMessage(book.title, await app.api.borrow(book.book_id, paymentMethod, key))),
  });
  app.afterRender(mount);
  return form;
}
