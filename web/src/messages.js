// Every answer in plain words, from the problem+json body the API sends.
import { CardProblem } from "./payments.js";

const DECLINES = {
  insufficient_funds: "there is not enough money in the account",
  expired_card: "the card has expired",
  incorrect_cvc: "the security code is not right",
  incorrect_number: "the card number is not right",
  lost_card: "the card was reported lost",
  stolen_card: "the card was reported stolen",
  processing_error: "the bank had a problem processing it",
  card_declined: "your bank declined it",
  generic_decline: "your bank declined it",
};

// Why a circulation request was refused (409 `reason`), in words.
export const REASONS = {
  no_copy_available: "Sorry, someone else has just borrowed the last free copy. You can place a hold instead.",
  on_hold_shelf: "This copy is waiting on the hold shelf for someone who placed a hold on it.",
  duplicate_hold: "You already have a hold on this title.",
  already_on_loan: "You already have a copy of this title on loan.",
  copy_available: "A copy is free right now, so you can borrow it instead of placing a hold.",
  hold_limit: "You have as many holds as allowed. Cancel one of them to place another.",
  renewal_limit: "You have renewed this as many times as allowed. Please return it by the due date.",
  on_hold: "Someone is waiting for this title, so it cannot be renewed. Please return it by the due date.",
  not_on_loan: "This book is no longer on loan to you, so there is nothing to renew.",
  nothing_to_pay: "There is nothing to pay: your balance is settled.",
  balance_changed: "Your balance changed a moment ago (perhaps another payment). Nothing was charged; please look again.",
  already_waived: "That charge was waived already.",
  not_waivable: "Only a late fee or a lost-item charge that is still owed can be waived.",
};
const BLOCKED = { balance_over_limit: "you owe more than the library allows", overdue_loan: "a book is long overdue" };

export function explain(error, action = "") {
  if (error instanceof CardProblem) return error.message;
  const problem = (error && error.problem) || {};
  switch (error && error.status) {
    case 0:
      return problem.detail;
    case 401:
      return "Your sign-in has ended. Please sign in again.";
    case 402: {
      const said = (problem.detail || "").replace(/\.$/, "");
      const generic = !said || /^your card (was|has been) declined$/i.test(said);
      const reason = DECLINES[problem.decline_code] || (generic ? DECLINES.card_declined
        : said.charAt(0).toLowerCase() + said.slice(1));
      return `Your card was declined: ${reason}. You have not been charged. Please try another card.`;
    }
    case 403:
      if (problem.reason === "account_blocked") {
        return `Your account is blocked, because ${(problem.block_reasons || []).map((r) => BLOCKED[r] || r).join(" and ")}. ` +
          "Return overdue books or pay your fees on My account.";
      }
      return action === "return" ? "This book is on loan to someone else, so you cannot return it."
        : "You are not allowed to do that.";
    case 404:
      if (action === "renew") return "We could not find that loan on your account.";
      if (action === "cancel-hold") return "We could not find that hold on your account.";
      return "We could not find that book. It may have been removed from the catalogue.";
    case 409:
      if (problem.title === "Request In Progress") return "We are still working on your last request. Please wait a moment.";
      if (REASONS[problem.reason]) return REASONS[problem.reason];
      if (action === "return") return "This book is no longer on loan to you.";
      if (action === "buy") return "Sorry, someone else has just borrowed or bought this book.";
      return "Sorry, someone else has just borrowed this book.";
    case 400:
    case 422:
      return problem.detail || "Please check what you entered.";
    case 503:
      return "The service is busy right now and nothing was charged. Please try again in a moment.";
    default:
      return "Something went wrong on our side. Please try again in a moment.";
  }
}
