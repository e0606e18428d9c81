// One book: status, fee and price; borrow or buy it with a card.
import { newKey } from "../api.js";
import { focus, h, outcome, replace } from "../dom.js";
import { availability, day, money } from "../format.js";
import { explain } from "../messages.js";
import { mountCard } from "../payments.js";

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
    action = h("section", { class: "panel", "aria-labelledby": "pay-heading" },
      h("h2", { id: "pay-heading" }, "Borrow or buy"),
      h("p", {}, "Sign in with your library account to borrow or buy this book."),
      h("button", { type: "button", onclick: () => app.auth.signIn() }, "Sign in to borrow or buy"));
  } else if (book.status === "available") {
    action = payForm(app, book, result);
  } else if (book.status === "borrowed" && app.auth.token()) {
    action = h("p", {}, "If you have borrowed it, you can return it from ", h("a", { href: "#/account" }, "My account"), ".");
  }
  app.afterRender(() => { if (notice) focus(notice); });
  return [
    h("p", {}, h("a", { href: "#/" }, "← Back to the catalogue")),
    h("h1", {}, book.title),
    h("p", { class: "author" }, `by ${book.author}`),
    details, result, action,
  ];
}

function payForm(app, book, result) {
  const cardSlot = h("div", { id: "card-element", class: "card-element" });
  const borrow = h("button", { type: "submit", name: "action", value: "borrow" },
    `Borrow for ${money(book.borrow_fee_cents, book.currency)}`);
  const buy = h("button", { type: "submit", name: "action", value: "buy", class: "secondary" },
    `Buy for ${money(book.price_cents, book.currency)}`);
  const busy = h("p", { class: "busy hint", hidden: true }, "Working on it…");
  let card = null;
  let submitting = false;

  const form = h("form", { class: "panel", "aria-labelledby": "pay-heading", novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      if (submitting || !card) return;
      const what = event.submitter && event.submitter.value === "buy" ? "buy" : "borrow";
      submitting = true;
      form.setAttribute("aria-busy", "true");
      for (const button of [borrow, buy]) button.disabled = true;
      busy.hidden = false;
      replace(result);
      try {
        const paymentMethod = await card.paymentMethod();
        const key = newKey();
        const done = what === "buy" ? await app.api.buy(book.book_id, paymentMethod, key)
          : await app.api.borrow(book.book_id, paymentMethod, key);
        const message = what === "buy"
          ? outcome("success", h("h2", {}, "Thank you — the book is yours"),
            h("p", {}, `You bought “${book.title}” for ${money(done.payment.amount, done.payment.currency)}.`),
            h("p", {}, h("a", { href: "#/account" }, "See your purchases")))
          : outcome("success", h("h2", {}, "Enjoy your book"),
            h("p", {}, `You have borrowed “${book.title}”. Please return it by `, h("strong", { class: "due" }, day(done.due_at)), "."),
            h("p", {}, h("a", { href: "#/account" }, "See your loans")));
        app.refresh(message);
      } catch (error) {
        const problem = outcome("error", h("p", {}, explain(error, what)));
        if (error && error.status === 409) {
          app.refresh(problem);
          return;
        }
        replace(result, problem);
        focus(problem);
      } finally {
        submitting = false;
        form.removeAttribute("aria-busy");
        for (const button of [borrow, buy]) button.disabled = false;
        busy.hidden = true;
      }
    } },
  h("h2", { id: "pay-heading" }, "Borrow or buy"),
  h("fieldset", {},
    h("legend", {}, "Card details"),
    cardSlot,
    h("p", { class: "hint" }, "Your card details go straight to our payment provider, Stripe. The library never sees them.")),
  h("div", { class: "actions" }, borrow, buy),
  busy);

  for (const button of [borrow, buy]) button.disabled = true;
  app.afterRender(async () => {
    try {
      card = await mountCard(app.config.stripe, cardSlot);
      app.onLeave(() => card.destroy());
      for (const button of [borrow, buy]) button.disabled = false;
    } catch (error) {
      replace(result, outcome("error", h("p", {}, explain(error))));
    }
  });
  return form;
}
