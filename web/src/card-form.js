// A form that takes a card in Stripe.js Elements (mountCard in payments.js) and pays for one of its
// actions: borrow or buy a copy, borrow a title, renew a loan. Buttons are disabled while a request
// is in flight; every attempt gets a fresh Idempotency-Key (api.js retries a lost answer with it).
import { newKey } from "./api.js";
import { focus, h, outcome, replace } from "./dom.js";
import { explain } from "./messages.js";
import { mountCard } from "./payments.js";

// actions: [{ value, label, secondary }]; pay(what, paymentMethod, key) → the success outcome to show.
// A 409 redraws the page with the reason (the state behind the page has changed); any other problem
// is shown in `result` (inside the form when not given) and focused, and the card stays filled in.
export function cardForm(app, { heading, headingId, actions, pay, result = null, explainAs = (what) => what,
  headingLevel = "h2", extra = [] }) {
  const slot = result || h("div", { class: "result-slot" });
  const cardSlot = h("div", { class: "card-element" });
  const buttons = actions.map((action) => h("button", { type: "submit", name: "action", value: action.value,
    class: action.secondary ? "secondary" : false }, action.label));
  const busy = h("p", { class: "busy hint", hidden: true }, "Working on it…");
  let card = null;
  let submitting = false;
  const enable = (on) => { for (const button of buttons) button.disabled = !on; };

  const form = h("form", { class: "panel", "aria-labelledby": headingId, novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      if (submitting || !card) return;
      const chosen = actions.find((action) => event.submitter && event.submitter.value === action.value) || actions[0];
      const what = chosen.value;
      submitting = true;
      form.setAttribute("aria-busy", "true");
      enable(false);
      busy.hidden = false;
      replace(slot);
      try {
        const paymentMethod = await card.paymentMethod();
        app.refresh(await pay(what, paymentMethod, newKey()));
      } catch (error) {
        const problem = outcome("error", h("p", {}, explain(error, explainAs(what))));
        if (error && error.status === 409) {
          app.refresh(problem);
          return;
        }
        replace(slot, problem);
        focus(problem);
      } finally {
        submitting = false;
        form.removeAttribute("aria-busy");
        enable(true);
        busy.hidden = true;
      }
    } },
  h(headingLevel, { id: headingId, tabindex: "-1" }, heading),
  result ? null : slot,
  h("fieldset", {},
    h("legend", {}, "Card details"),
    cardSlot,
    h("p", { class: "hint" }, "Your card details go straight to our payment provider, Stripe. The library never sees them.")),
  h("div", { class: "actions" }, buttons, extra),
  busy);

  enable(false);
  const mount = async () => {
    try {
      card = await mountCard(app.config.stripe, cardSlot);
      app.onLeave(() => { if (card) card.destroy(); card = null; });
      enable(true);
    } catch (error) {
      replace(slot, outcome("error", h("p", {}, explain(error))));
    }
  };
  return { form, mount, destroy: () => { if (card) card.destroy(); card = null; } };
}
