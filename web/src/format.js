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
  sold: { words: "Sold", icon: "✕", hint: "This copy has been sold." },
};

export function availability(status) {
  return AVAILABILITY[status] || { words: status, icon: "?", hint: "" };
}

// Whole pounds/dollars as typed by a person ("12.99", "12") into cents; null when not a price.
export function parseMoney(text) {
  const match = /^\s*(\d{1,6})(?:[.,](\d{1,2}))?\s*$/.exec(text || "");
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || "0").padEnd(2, "0"));
}
