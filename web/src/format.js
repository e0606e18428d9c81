// Money, dates and availability in words, in the reader's own locale.

export function money(cents, currency) {
  return new Intl.NumberFormat(undefined, { style: "currency", currency: currency.toUpperCase() }).format(cents / 100);
}

export function day(iso) {
  return iso ? new Intl.DateTimeFormat(undefined, { dateStyle: "medium" }).format(new Date(iso)) : "";
}

const AVAILABILITY = {
  available: { words: "Available", icon: "✓", hint: "You can borrow or buy it now." },
  borrowed: { words: "On loan", icon: "↺", hint: "Someone has borrowed it; it will come back." },
  on_hold_shelf: { words: "On the hold shelf", icon: "⌛", hint: "It is waiting for someone who placed a hold." },
  sold: { words: "Sold", icon: "✕", hint: "This copy has been sold." },
  lost: { words: "Lost", icon: "✕", hint: "This copy has been lost." },
  withdrawn: { words: "Withdrawn", icon: "✕", hint: "This copy is no longer lent." },
};

export function availability(status) {
  return AVAILABILITY[status] || { words: status, icon: "?", hint: "" };
}

// A title's copies in words: "2 of 3 available", and how many people are waiting.
export function titleAvailability(title) {
  const free = title.copies_available;
  const words = `${free} of ${title.copies_total} available`;
  const waiting = title.holds_waiting
    ? `${title.holds_waiting} ${title.holds_waiting === 1 ? "person" : "people"} waiting` : "";
  return { words, waiting, icon: free > 0 ? "✓" : "↺", kind: free > 0 ? "available" : "borrowed" };
}

export function languageName(code) {
  if (!code) return "";
  try {
    return new Intl.DisplayNames(undefined, { type: "language" }).of(code) || code;
  } catch (error) {
    return code;
  }
}

// Whole pounds/dollars as typed by a person ("12.99", "12") into cents; null when not a price.
export function parseMoney(text) {
  const match = /^\s*(\d{1,6})(?:[.,](\d{1,2}))?\s*$/.exec(text || "");
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || "0").padEnd(2, "0"));
}
