// For librarians, on the desk: refund a purchase (POST /purchases/{id}/refund {"reason"}) in two steps. "Refund…"
// only checks the form and asks; "Confirm refund" sends it (one Idempotency-Key per confirmation step, so a
// double press refunds once); "Cancel" closes the question and nothing is sent.
// No librarian endpoint lists purchases, so the sale is named by its purchase id (the buyer's receipt number).
import { newKey } from "../api.js";
import { focus, h, outcome, replace } from "../dom.js";
import { money } from "../format.js";
import { explain } from "../messages.js";

const REFUSED = {
  already_refunded: "This purchase has been refunded already. Nothing more was refunded.",
  not_refundable: "This purchase cannot be refunded: its payment was never taken.",
};
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function refundExplain(error) {
  const reason = error && error.problem && error.problem.reason;
  if (error && error.status === 409 && REFUSED[reason]) return REFUSED[reason];
  if (error && error.status === 404) return "There is no purchase with that id. Please check it.";
  return explain(error);
}

export function refundForm(app) {
  const result = h("div", { class: "result-slot" });
  const confirmSlot = h("div", {});
  const input = (id, label, hint) => {
    const control = h("input", { id, name: id, type: "text", autocomplete: "off", "aria-describedby": `${id}-hint ${id}-error` });
    const error = h("p", { id: `${id}-error`, class: "field-error" });
    return { control, error, node: h("div", { class: "field" }, h("label", { for: id }, label),
      h("p", { id: `${id}-hint`, class: "hint" }, hint), control, error) };
  };
  const purchase = input("refund-purchase", "Purchase id", "The purchase's id, as on the buyer's receipt");
  const reason = input("refund-reason", "Reason", "For example: damaged on arrival");
  const ask = h("button", { type: "submit" }, "Refund…");

  const closeQuestion = () => {
    replace(confirmSlot);
    purchase.control.disabled = false;
    reason.control.disabled = false;
    ask.disabled = false;
  };

  const question = (purchaseId, why) => {
    const key = newKey(); // one refund per confirmation, however many presses
    let busy = false;
    const confirm = h("button", { type: "button" }, "Confirm refund");
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    const heading = h("h3", { id: "refund-confirm-heading", tabindex: "-1" }, "Confirm the refund");
    cancel.addEventListener("click", () => {
      if (busy) return;
      closeQuestion();
      replace(result, outcome("success", h("p", {}, "Cancelled: nothing was refunded.")));
      focus(purchase.control);
    });
    confirm.addEventListener("click", async () => {
      if (busy) return;
      busy = true;
      confirm.disabled = true;
      cancel.disabled = true;
      confirm.textContent = "Refunding…";
      let box;
      try {
        const done = await app.api.refund(purchaseId, why, key);
        const amount = money(done.payment.amount, done.payment.currency);
        box = outcome("success", h("p", { class: "desk-action" }, `Refunded ${amount}. The copy is back in the library.`),
          done.processor_refunded ? null
            : h("p", {}, "The card processor could not be told yet; the refund will reach the buyer's card when it can."));
        purchase.control.value = "";
        reason.control.value = "";
      } catch (error) {
        box = outcome("error", h("p", {}, refundExplain(error)));
      }
      closeQuestion();
      replace(result, box);
      focus(box);
    });
    replace(confirmSlot, h("section", { class: "panel confirm", role: "group", "aria-labelledby": "refund-confirm-heading" },
      heading,
      h("p", {}, `Refund purchase ${purchaseId} for the reason “${why}”? The buyer gets the price back and the copy `
        + "returns to the shelf. This cannot be undone."),
      h("p", {}, confirm, " ", cancel)));
    purchase.control.disabled = true;
    reason.control.disabled = true;
    ask.disabled = true;
    focus(heading);
  };

  const form = h("form", { class: "panel", novalidate: true, "aria-labelledby": "refund-heading",
    onsubmit: (event) => {
      event.preventDefault();
      const purchaseId = purchase.control.value.trim();
      const why = reason.control.value.trim();
      const problems = [[purchase, !purchaseId ? "Please enter the purchase id."
        : !UUID.test(purchaseId) ? "A purchase id looks like 1b4e28ba-2fa1-11d2-883f-0016d3cca427." : ""],
      [reason, why ? "" : "Please say why the purchase is refunded."]];
      for (const [f, message] of problems) {
        f.error.textContent = message;
        if (message) f.control.setAttribute("aria-invalid", "true");
        else f.control.removeAttribute("aria-invalid");
      }
      const first = problems.find(([, message]) => message);
      if (first) return focus(first[0].control);
      replace(result);
      question(purchaseId, why);
    } },
  h("h2", { id: "refund-heading" }, "Refund a purchase"),
  purchase.node, reason.node, ask, confirmSlot);
  return [form, result];
}
