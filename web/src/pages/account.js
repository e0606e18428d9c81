// My account: my holds (place in the queue, ready-until, Cancel), what I have on loan now (due
// dates, Return, and Renew with a card), my loan history, my purchases, and my notices with the
// due-soon reminders switch (pages/notices.js).
import { newKey } from "../api.js";
import { cardForm } from "../card-form.js";
import { focus, h, outcome, replace } from "../dom.js";
import { day, money } from "../format.js";
import { explain } from "../messages.js";
import { noticesSection } from "./notices.js";

export async function accountPage(app, notice = null) {
  if (!app.auth.token()) return signInFirst(app, "My account", "Sign in to see your loans and purchases.");
  let loans;
  let purchases;
  let holds;
  try {
    [loans, purchases, holds] = await Promise.all([app.api.myLoans(), app.api.myPurchases(), app.api.myHolds()]);
  } catch (error) {
    return [h("h1", {}, "My account"), h("p", { role: "alert", class: "outcome outcome-error" }, explain(error))];
  }
  const current = loans.items.filter((loan) => !loan.returned_at && !loan.closed_reason);
  const past = loans.items.filter((loan) => loan.returned_at || loan.closed_reason);
  const me = app.me || {};
  const renewing = { close: null }; // one card form at a time
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
      const item = h("li", { class: "loan" },
        h("h3", {}, h("a", { href: `#/books/${loan.book_id}` }, loan.title)),
        h("p", {}, `Borrowed ${day(loan.borrowed_at)}`),
        h("p", { class: overdue ? "due overdue" : "due" }, overdue ? "Overdue — was due back " : "Due back by ",
          h("strong", {}, day(loan.due_at))),
        h("p", { class: "renewals" }, renewalWords(loan)));
      const renewSlot = h("div", { id: `renew-${loan.loan_id}`, class: "renew-slot" });
      const actions = h("div", { class: "actions" }, button);
      if (loan.renewals_left > 0) actions.append(renewButton(app, loan, renewSlot, renewing));
      item.append(actions, renewSlot);
      return item;
    }))
    : h("p", {}, "You have nothing on loan. ", h("a", { href: "#/" }, "Find a book to borrow."));

  const active = holds.items.filter((hold) => hold.status === "waiting" || hold.status === "ready");
  const holdList = active.length
    ? h("ul", { class: "hold-list", "aria-labelledby": "holds-heading" }, active.map((hold) => holdItem(app, hold)))
    : h("p", {}, "You have no holds. When every copy of a title is out, you can place a hold on its page.");

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
    h("section", { "aria-labelledby": "holds-heading" }, h("h2", { id: "holds-heading" }, "Holds"), holdList),
    h("section", { "aria-labelledby": "on-loan-heading" }, onLoanHeading, onLoan),
    h("section", { "aria-labelledby": "history-heading" }, h("h2", { id: "history-heading" }, "Loan history"), history),
    h("section", { "aria-labelledby": "purchases-heading" }, h("h2", { id: "purchases-heading" }, "Purchases"), bought),
    await noticesSection(app),
  ];
}

function renewalWords(loan) {
  if (loan.renewals_left === 0) return "You have renewed this as many times as allowed.";
  const done = loan.renewals === 0 ? "Not renewed yet" : `Renewed ${loan.renewals} ${loan.renewals === 1 ? "time" : "times"}`;
  return `${done} · you can renew it ${loan.renewals_left} more ${loan.renewals_left === 1 ? "time" : "times"}`;
}

// Renew: opens the card step under the loan (the fee is the copy's borrow fee, charged again).
function renewButton(app, loan, slot, renewing) {
  const button = h("button", { type: "button", class: "secondary", "aria-expanded": "false",
    "aria-controls": slot.id, "aria-label": `Renew “${loan.title}”` }, "Renew");
  let open = false;
  const close = () => {
    open = false;
    button.setAttribute("aria-expanded", "false");
    if (slot.destroyCard) slot.destroyCard();
    replace(slot);
    if (renewing.close === close) renewing.close = null;
  };
  button.addEventListener("click", async () => {
    if (open) {
      close();
      return;
    }
    if (renewing.close) renewing.close();
    open = true;
    renewing.close = close;
    button.setAttribute("aria-expanded", "true");
    let book;
    try {
      book = await app.api.book(loan.book_id);
    } catch (error) {
      replace(slot, outcome("error", h("p", {}, explain(error))));
      return;
    }
    if (!open) return;
    const fee = money(book.borrow_fee_cents, book.currency);
    const notNow = h("button", { type: "button", class: "secondary" }, "Not now");
    notNow.addEventListener("click", () => { close(); focus(button); });
    const { form, mount, destroy } = cardForm(app, {
      heading: `Renew “${loan.title}”`, headingId: `renew-heading-${loan.loan_id}`, headingLevel: "h4",
      actions: [{ value: "renew", label: `Renew for ${fee}` }], explainAs: () => "renew", extra: [notNow],
      pay: async (what, paymentMethod, key) => {
        const done = await app.api.renew(loan.loan_id, paymentMethod, key);
        return outcome("success", h("h2", {}, "Renewed"),
          h("p", {}, `You have renewed “${loan.title}” for ${fee}. Please return it by `,
            h("strong", { class: "due" }, day(done.due_at)), "."));
      },
    });
    slot.destroyCard = destroy;
    replace(slot, h("p", { class: "hint" }, `Renewing charges the borrow fee again and moves the due date on by ${app.loanDays} days.`), form);
    focus(form.querySelector("h4"));
    await mount();
  });
  return button;
}

function holdItem(app, hold) {
  const cancel = h("button", { type: "button", class: "secondary", "aria-label": `Cancel the hold on “${hold.title}”` }, "Cancel hold");
  cancel.addEventListener("click", async () => {
    if (cancel.disabled) return;
    cancel.disabled = true;
    cancel.textContent = "Cancelling…";
    try {
      await app.api.cancelHold(hold.hold_id, newKey());
      app.refresh(outcome("success", h("p", {}, `You have cancelled your hold on “${hold.title}”.`)));
    } catch (error) {
      app.refresh(outcome("error", h("p", {}, explain(error, "cancel-hold"))));
    }
  });
  const where = hold.status === "ready"
    ? [h("p", { class: "ready" }, h("strong", {}, "Ready for you"), " — a copy waits on the hold shelf until ",
      h("strong", {}, day(hold.ready_until)), "."),
    h("p", {}, h("a", { href: `#/titles/${hold.title_id}` }, `Borrow “${hold.title}” now`))]
    : [h("p", { class: "position" }, `Number ${hold.position} in the queue`,
      hold.position === 1 ? " — the next copy to come back is yours" : "")];
  return h("li", { class: "hold" },
    h("h3", {}, h("a", { href: `#/titles/${hold.title_id}` }, hold.title)),
    h("p", {}, `Placed ${day(hold.placed_at)}`),
    where,
    h("div", { class: "actions" }, cancel));
}

export function signInFirst(app, title, why) {
  return [h("h1", {}, title), h("p", {}, why),
    h("button", { type: "button", onclick: () => app.auth.signIn() }, "Sign in")];
}
