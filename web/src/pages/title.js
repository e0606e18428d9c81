// One title: how many of its copies are free, each copy's status (and due date when on loan);
// Borrow (any free copy, with a card) when one is free, Place hold when none is; librarians see the queue.
import { newKey } from "../api.js";
import { cardForm } from "../card-form.js";
import { focus, h, outcome } from "../dom.js";
import { availability, day, languageName, money, titleAvailability } from "../format.js";
import { explain } from "../messages.js";
import { boughtMessage, borrowedMessage, signInToPay } from "./book.js";

const ACTIVE_HOLD = new Set(["waiting", "ready"]);

export async function titlePage(app, titleId, notice = null) {
  const signedIn = Boolean(app.auth.token());
  const librarian = Boolean(signedIn && app.me && app.me.is_librarian);
  let title;
  let loans = [];
  let holds = [];
  let queue = null;
  try {
    [title, loans, holds, queue] = await Promise.all([
      app.api.title(titleId),
      signedIn ? app.api.myLoans().then((r) => r.items) : [],
      signedIn ? app.api.myHolds().then((r) => r.items) : [],
      librarian ? app.api.titleQueue(titleId).then((r) => r.items) : null,
    ]);
  } catch (error) {
    return [h("p", {}, h("a", { href: "#/" }, "← Back to the catalogue")), h("h1", {}, "Book not found"),
      h("p", { role: "alert" }, explain(error))];
  }
  const copyIds = new Set(title.copies.map((copy) => copy.book_id));
  const myLoan = loans.find((loan) => !loan.returned_at && !loan.closed_reason && copyIds.has(loan.book_id));
  const myHold = holds.find((hold) => hold.title_id === title.title_id && ACTIVE_HOLD.has(hold.status));
  const shelfCopy = myHold && myHold.status === "ready" ? title.copies.find((c) => c.book_id === myHold.book_id) : null;
  const freeCopy = title.copies.find((copy) => copy.status === "available");
  const borrowCopy = shelfCopy || freeCopy; // the copy POST /titles/{id}/borrow lends: yours on the hold shelf first
  const shown = borrowCopy || title.copies.find((copy) => copy.status !== "sold") || title.copies[0];
  const counts = titleAvailability(title);

  const result = h("div", { class: "result-slot" }, notice);
  const facts = h("dl", { class: "facts" },
    h("dt", {}, "Availability"),
    h("dd", { class: `availability availability-${counts.kind}` },
      h("span", { "aria-hidden": "true" }, counts.icon), " ", counts.words,
      counts.waiting ? h("span", { class: "hint" }, ` — ${counts.waiting}`) : null),
    shown ? [h("dt", {}, "Borrow fee"), h("dd", {}, `${money(shown.borrow_fee_cents, shown.currency)} for ${app.loanDays} days`)] : null,
    freeCopy || shown ? [h("dt", {}, "Price to buy"),
      h("dd", {}, money((freeCopy || shown).price_cents, (freeCopy || shown).currency))] : null,
    title.publication_year ? [h("dt", {}, "Published"), h("dd", {}, String(title.publication_year))] : null,
    title.language ? [h("dt", {}, "Language"), h("dd", {}, languageName(title.language))] : null,
    h("dt", {}, "ISBN"), h("dd", {}, title.isbn));

  let action;
  if (!signedIn) {
    action = borrowCopy ? signInToPay(app)
      : signInToPay(app, { heading: "Place a hold", why: "place a hold on this title", button: "Sign in to place a hold" });
  } else if (myLoan) {
    action = h("p", { class: "panel" }, "You have this on loan, due back by ", h("strong", {}, day(myLoan.due_at)),
      ". You can renew or return it from ", h("a", { href: "#/account" }, "My account"), ".");
  } else if (borrowCopy) {
    action = borrowForm(app, title, borrowCopy, shelfCopy ? null : freeCopy, myHold, result);
  } else if (myHold) {
    action = h("section", { class: "panel", "aria-labelledby": "hold-heading" },
      h("h2", { id: "hold-heading" }, "Your hold"),
      h("p", { class: "position" }, `You are number ${myHold.position} in the queue.`,
        myHold.position === 1 ? " The next copy to come back is yours." : ""),
      h("p", {}, "We keep the copy on the hold shelf for you when it comes back. You can cancel the hold in ",
        h("a", { href: "#/account" }, "My account"), "."));
  } else {
    action = holdForm(app, title);
  }

  const copies = h("section", { "aria-labelledby": "copies-heading" },
    h("h2", { id: "copies-heading" }, title.copies.length === 1 ? "The copy" : `The ${title.copies.length} copies`),
    title.copies.length
      ? h("ul", { class: "copy-list" }, title.copies.map((copy, index) => copyItem(copy, index, myHold)))
      : h("p", {}, "The library has no copies of this title at the moment."));

  app.afterRender(() => { if (notice) focus(notice); });
  return [
    h("p", {}, h("a", { href: "#/" }, "← Back to the catalogue")),
    h("h1", {}, title.title),
    h("p", { class: "author" }, `by ${title.author}`),
    facts,
    title.description ? h("p", { class: "description" }, title.description) : null,
    result, action, copies,
    queue ? queueSection(queue) : null,
    librarian ? h("p", {}, h("a", { href: `#/titles/${title.title_id}/manage` }, "Manage this title and its copies")) : null,
  ];
}

function copyItem(copy, index, myHold) {
  const state = availability(copy.status);
  const mine = copy.status === "on_hold_shelf" && myHold && myHold.book_id === copy.book_id;
  return h("li", { class: "copy" },
    h("a", { href: `#/books/${copy.book_id}` }, `Copy ${index + 1}`), " ",
    h("span", { class: `availability availability-${copy.status}` },
      h("span", { "aria-hidden": "true" }, state.icon), " ", state.words),
    copy.status === "borrowed" && copy.due_at ? h("span", { class: "due" }, ` — due back ${day(copy.due_at)}`) : null,
    mine ? h("span", {}, " — waiting for you") : null);
}

function borrowForm(app, title, borrowCopy, buyCopy, myHold, result) {
  const actions = [{ value: "borrow", label: `Borrow for ${money(borrowCopy.borrow_fee_cents, borrowCopy.currency)}` }];
  if (buyCopy) actions.push({ value: "buy", label: `Buy for ${money(buyCopy.price_cents, buyCopy.currency)}`, secondary: true });
  const { form, mount } = cardForm(app, {
    heading: buyCopy ? "Borrow or buy" : "Borrow", headingId: "pay-heading", result, actions,
    pay: async (what, paymentMethod, key) => (what === "buy"
      ? boughtMessage(title.title, await app.api.buy(buyCopy.book_id, paymentMethod, key))
      : borrowedMessage(title.title, await app.api.borrowTitle(title.title_id, paymentMethod, key))),
  });
  if (myHold && myHold.status === "ready") {
    form.querySelector("h2").after(h("p", { class: "ready" }, "A copy is waiting for you on the hold shelf until ",
      h("strong", {}, day(myHold.ready_until)), "."));
  }
  app.afterRender(mount);
  return form;
}

function holdForm(app, title) {
  const button = h("button", { type: "button" }, "Place hold");
  let busy = false;
  button.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    button.disabled = true;
    button.textContent = "Placing your hold…";
    try {
      const hold = await app.api.placeHold(title.title_id, newKey());
      app.refresh(outcome("success", h("h2", {}, "Your hold is placed"),
        h("p", { class: "position" }, `You are number ${hold.position} in the queue for “${title.title}”.`),
        h("p", {}, "When a copy comes back we keep it for you on the hold shelf. ",
          h("a", { href: "#/account" }, "See your holds"))));
    } catch (error) {
      app.refresh(outcome("error", h("p", {}, explain(error, "hold"))));
    }
  });
  const waiting = title.holds_waiting;
  return h("section", { class: "panel", "aria-labelledby": "hold-heading" },
    h("h2", { id: "hold-heading" }, "Place a hold"),
    h("p", {}, "Every copy is out right now. ",
      waiting ? `${waiting} ${waiting === 1 ? "person is" : "people are"} waiting. ` : "Nobody is waiting yet. ",
      "Place a hold and we keep the next copy that comes back for you."),
    button);
}

const QUEUE_STATUS = { ready: "Ready on the hold shelf", waiting: "Waiting" };

function queueSection(queue) {
  const body = queue.length === 0 ? h("p", {}, "Nobody is waiting for this title.")
    : h("div", { class: "table-wrap", role: "region", "aria-labelledby": "queue-heading", tabindex: "0" },
      h("table", {},
        h("thead", {}, h("tr", {}, ["Place", "Patron", "Status", "Placed", "Ready until"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, queue.map((hold) => h("tr", {},
          h("td", {}, hold.position ? String(hold.position) : "—"),
          h("th", { scope: "row" }, (hold.patron && (hold.patron.name || hold.patron.sub)) || ""),
          h("td", {}, QUEUE_STATUS[hold.status] || hold.status),
          h("td", {}, day(hold.placed_at)),
          h("td", {}, hold.ready_until ? day(hold.ready_until) : ""))))));
  return h("section", { class: "queue" }, // not a landmark itself: the scrollable table is the region
    h("h2", { id: "queue-heading" }, "Queue (librarians)"), body);
}
