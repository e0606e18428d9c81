// Fees on two pages: "My account" gets the balance, the charges, why an account is blocked and a Pay
// button with the card form; the librarian's page gets a patron search with each patron's charges and
// a Waive form that asks for a reason (docs/fees.md).
import { newKey } from "../api.js";
import { cardForm } from "../card-form.js";
import { focus, h, outcome, replace } from "../dom.js";
import { day, money } from "../format.js";
import { explain } from "../messages.js";

const KINDS = { late_fee: "Late fee", lost_item: "Lost item", lost_item_reversed: "Lost item returned",
  payment: "Payment", waiver: "Waived" };
const BLOCKS = {
  balance_over_limit: "you owe more than the library allows",
  overdue_loan: "a book is long overdue",
};

function chargeRows(charges, currency, extra = () => []) {
  return h("div", { class: "table-wrap", role: "region", "aria-label": "Charges", tabindex: "0" },
    h("table", {},
      h("thead", {}, h("tr", {}, ["Date", "What", "Book", "Amount", ...extra(null)].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, charges.map((c) => h("tr", { class: c.counts ? "" : "void" },
        h("td", {}, day(c.created_at)), h("th", { scope: "row" }, KINDS[c.kind] || c.kind), h("td", {}, c.title || ""),
        h("td", {}, money(c.amount_cents, c.currency || currency), c.counts ? "" : " (not counted)"), ...extra(c))))));
}

export function blockedWords(account) {
  return `Your account is blocked, because ${account.block_reasons.map((r) => BLOCKS[r] || r).join(" and ")}. ` +
    "You can still return books and pay; borrowing, renewing and holds work again once that is settled.";
}

// "My account": the balance, the charges and, when something is owed, Pay with a card.
export async function feesSection(app) {
  let account;
  try {
    account = await app.api.myAccount();
  } catch (error) {
    return h("section", { "aria-labelledby": "fees-heading" }, h("h2", { id: "fees-heading" }, "Fees"),
      h("p", { role: "alert" }, explain(error)));
  }
  const owed = money(account.balance_cents, account.currency);
  const parts = [h("h2", { id: "fees-heading" }, "Fees"),
    h("p", { class: "balance" }, account.balance_cents > 0 ? "You owe " : "Balance: ", h("strong", {}, owed))];
  if (account.blocked) parts.push(h("p", { role: "alert", class: "outcome outcome-error blocked" }, blockedWords(account)));
  parts.push(account.charges.length ? chargeRows(account.charges, account.currency) : h("p", {}, "No fees. Thank you!"));
  if (account.balance_cents > 0) {
    const slot = h("div", { id: "pay-slot" });
    const open = h("button", { type: "button", "aria-controls": "pay-slot", "aria-expanded": "false" }, `Pay ${owed}`);
    open.addEventListener("click", async () => {
      open.setAttribute("aria-expanded", "true");
      open.hidden = true;
      const { form, mount } = cardForm(app, {
        heading: `Pay ${owed}`, headingId: "pay-heading", headingLevel: "h3",
        actions: [{ value: "pay", label: `Pay ${owed}` }], explainAs: () => "pay",
        pay: async (what, paymentMethod, key) => {
          const done = await app.api.payFees(paymentMethod, key);
          return outcome("success", h("h2", {}, "Paid"),
            h("p", {}, `Thank you — you have paid ${money(done.payment.amount, done.payment.currency)}.`));
        },
      });
      replace(slot, form);
      focus(form.querySelector("h3"));
      await mount();
    });
    parts.push(open, slot);
  }
  return h("section", { "aria-labelledby": "fees-heading" }, parts);
}

// The librarian's page: find a patron, see their charges, waive one with a reason.
export function patronDesk(app) {
  const results = h("div", { class: "result-slot", "aria-live": "polite" });
  const input = h("input", { id: "patron-q", name: "q", type: "search", autocomplete: "off" });
  const showPatron = async (patronId, notice = null) => {
    let file;
    try {
      file = await app.api.patronFile(patronId);
    } catch (error) {
      replace(results, outcome("error", h("p", {}, explain(error))));
      return;
    }
    const a = file.account;
    const waiveCell = (c) => {
      if (c === null) return ["Waive"];
      if (!["late_fee", "lost_item"].includes(c.kind)) return [h("td", {})];
      const reason = h("input", { type: "text", name: "reason", required: true, "aria-label": `Reason to waive the ${KINDS[c.kind]} of ${day(c.created_at)}` });
      const form = h("form", { class: "waive", novalidate: true, onsubmit: async (event) => {
        event.preventDefault();
        if (!reason.value.trim()) { reason.focus(); return; }
        try {
          await app.api.waive(patronId, c.charge_id, reason.value.trim(), newKey());
          await showPatron(patronId, outcome("success", h("p", {}, `Waived the ${KINDS[c.kind].toLowerCase()}.`)));
        } catch (error) {
          await showPatron(patronId, outcome("error", h("p", {}, explain(error, "waive"))));
        }
      } }, reason, h("button", { type: "submit", class: "secondary" }, "Waive"));
      return [h("td", {}, form)];
    };
    replace(results, notice,
      h("h3", { id: "patron-heading", tabindex: "-1" }, file.name || file.sub, file.email ? ` (${file.email})` : ""),
      h("p", { class: "balance" }, "Owes ", h("strong", {}, money(a.balance_cents, a.currency)),
        a.blocked ? ` — blocked: ${a.block_reasons.map((r) => BLOCKS[r] || r).join(", ")}` : ""),
      h("p", {}, `${file.loans.filter((l) => !l.returned_at).length} on loan, ${file.holds.length} holds`),
      a.charges.length ? chargeRows(a.charges, a.currency, waiveCell) : h("p", {}, "No charges."));
    focus(notice || results.querySelector("h3"));
  };
  const form = h("form", { class: "panel", role: "search", "aria-labelledby": "patrons-heading", onsubmit: async (event) => {
    event.preventDefault();
    try {
      const found = await app.api.findPatrons(input.value.trim());
      replace(results, found.items.length
        ? h("ul", { class: "plain-list" }, found.items.map((p) => {
          const open = h("button", { type: "button", class: "link" }, p.name || p.sub);
          open.addEventListener("click", () => showPatron(p.patron_id));
          return h("li", {}, open, p.email ? ` — ${p.email}` : "");
        }))
        : h("p", {}, "No patron matches."));
    } catch (error) {
      replace(results, outcome("error", h("p", {}, explain(error))));
    }
  } },
  h("h2", { id: "patrons-heading" }, "Patrons"),
  h("div", { class: "field" }, h("label", { for: "patron-q" }, "Name, email or subject"), input),
  h("button", { type: "submit" }, "Find patron"));
  return h("section", { "aria-labelledby": "patrons-heading" }, form, results);
}
