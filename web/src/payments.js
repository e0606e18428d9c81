// The card, entered in Stripe.js Elements: card numbers go to Stripe, never to our API; we send
// only the payment-method id Stripe gives back.
export class CardProblem extends Error {}

let loading = null;

function loadStripeJs(url) {
  if (window.Stripe) return Promise.resolve(window.Stripe);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.onload = () => resolve(window.Stripe);
      script.onerror = () => { loading = null; reject(new CardProblem("The card form could not be loaded. Please reload the page.")); };
      document.head.append(script);
    });
  }
  return loading;
}

// The local Stripe stand-in draws plain inputs with placeholders only; name them for everyone.
const STAND_IN_LABELS = { number: "Card number", exp_month: "Expiry month (MM)", exp_year: "Expiry year (YY)",
  cvc: "Security code (CVC)", postal_code: "Postal code" };

function labelStandInInputs(container) {
  for (const input of container.querySelectorAll("input[placeholder]")) {
    const label = STAND_IN_LABELS[input.getAttribute("placeholder")];
    if (label) {
      input.setAttribute("aria-label", label);
      input.setAttribute("inputmode", "numeric");
      input.setAttribute("autocomplete", "off");
    }
  }
}

export async function mountCard(stripeConfig, container) {
  const Stripe = await loadStripeJs(stripeConfig.js_url);
  const stripe = Stripe(stripeConfig.publishable_key);
  const card = stripe.elements().create("card", { hidePostalCode: false });
  card.mount(container);
  labelStandInInputs(container);
  return {
    async paymentMethod() {
      let result;
      try {
        result = await stripe.createPaymentMethod({ type: "card", card });
        if (result === undefined) {
          // Only the local stand-in lands here: its createPaymentMethod is an empty stub, while
          // createToken works and the token's card id is accepted as a payment method.
          const { token, error } = await stripe.createToken(card);
          result = error ? { error } : { paymentMethod: { id: token.card.id } };
        }
      } catch (error) {
        throw new CardProblem("Please enter your card number, expiry date and security code.");
      }
      if (result.error) throw new CardProblem(cardMessage(result.error));
      return result.paymentMethod.id;
    },
    destroy() {
      card.destroy();
    },
  };
}

// Stripe's own words for what is wrong with the card; anything else means Stripe was not reached.
function cardMessage(error) {
  if ((error.type === "card_error" || error.type === "validation_error" || error.type === "invalid_request_error")
      && error.message) {
    return error.message;
  }
  return "We could not reach the payment service, and nothing was charged. Please try again in a moment.";
}
