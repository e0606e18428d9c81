// The catalogue: search by title, author or ISBN, "available only", pages of results.
import { announce, focus, h } from "../dom.js";
import { availability, money } from "../format.js";
import { explain } from "../messages.js";

export const PAGE_SIZE = 6;

export function catalogueHash({ q = "", available = false, page = 1 }) {
  const params = new URLSearchParams();
  if (q) params.set("q", q);
  if (available) params.set("available", "1");
  if (page > 1) params.set("page", String(page));
  const query = params.toString();
  return query ? `#/?${query}` : "#/";
}

export function bookCard(book) {
  const state = availability(book.status);
  return h("li", { class: "book-card" },
    h("h3", {}, h("a", { href: `#/books/${book.book_id}` }, book.title)),
    h("p", { class: "author" }, `by ${book.author}`),
    h("p", { class: `availability availability-${book.status}` },
      h("span", { "aria-hidden": "true" }, state.icon), " ", state.words),
    h("p", { class: "prices" }, `Borrow ${money(book.borrow_fee_cents, book.currency)} · Buy ${money(book.price_cents, book.currency)}`));
}

export async function cataloguePage(app, params) {
  const q = (params.get("q") || "").trim();
  const available = params.get("available") === "1";
  const page = Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1);
  const focusResults = Boolean(app.state.focusResults);
  const focusId = app.state.focusId;

  const search = h("input", { id: "q", name: "q", type: "search", value: q, autocomplete: "off",
    "aria-describedby": "q-hint" });
  const onlyAvailable = h("input", { id: "available", name: "available", type: "checkbox", checked: available });
  const form = h("form", { role: "search", class: "search", "aria-label": "Search the catalogue",
    onsubmit: (event) => {
      event.preventDefault();
      app.go(catalogueHash({ q: search.value.trim(), available: onlyAvailable.checked }), { focusResults: true });
    } },
    h("div", { class: "field" }, h("label", { for: "q" }, "Title, author or ISBN"), search,
      h("p", { id: "q-hint", class: "hint" }, "For example: Austen, Hobbit or 9780547928227")),
    h("div", { class: "check" }, onlyAvailable, h("label", { for: "available" }, "Available only")),
    h("button", { type: "submit" }, "Search"));
  // Ticking the filter searches at once; focus stays on the checkbox and the count is announced.
  onlyAvailable.addEventListener("change", () => {
    app.go(catalogueHash({ q: search.value.trim(), available: onlyAvailable.checked }), { focusId: "available" });
  });

  let result;
  try {
    result = await app.api.books({ q, available, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE });
  } catch (error) {
    return [h("h1", {}, "Find a book"), form, h("p", { role: "alert", class: "outcome outcome-error" }, explain(error))];
  }
  const pages = Math.max(1, Math.ceil(result.total / PAGE_SIZE));
  const summary = result.total === 0 ? "No books found"
    : `${result.total} ${result.total === 1 ? "book" : "books"} found${pages > 1 ? `, page ${page} of ${pages}` : ""}`;
  const heading = h("h2", { id: "results-heading", tabindex: "-1" }, summary);
  const list = result.items.length
    ? h("ul", { class: "book-list", "aria-labelledby": "results-heading" }, result.items.map(bookCard))
    : h("p", {}, available ? "Try without “Available only”, or search for something else." : "Try another title, author or ISBN.");
  const pager = pages > 1 ? h("nav", { class: "pager", "aria-label": "Result pages" },
    page > 1 ? h("a", { href: catalogueHash({ q, available, page: page - 1 }), rel: "prev" }, "← Previous page") : null,
    h("span", { class: "page-of" }, `Page ${page} of ${pages}`),
    page < pages ? h("a", { href: catalogueHash({ q, available, page: page + 1 }), rel: "next" }, "Next page →") : null) : null;

  app.afterRender(() => {
    announce(summary);
    if (focusResults) focus(heading);
    else if (focusId) focus(document.getElementById(focusId));
  });
  return [h("h1", {}, "Find a book"), form, h("section", { class: "results", "aria-labelledby": "results-heading" }, heading, list, pager)];
}
