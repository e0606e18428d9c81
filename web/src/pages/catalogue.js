// The catalogue: titles (not copies), ranked by relevance to the search (GET /titles?q=…), with how
// many copies are free; "available only", author and language as filters (the API's facets); pages.
import { announce, focus, h } from "../dom.js";
import { languageName, titleAvailability } from "../format.js";
import { explain } from "../messages.js";

export const PAGE_SIZE = 6;

export function catalogueHash({ q = "", available = false, author = "", language = "", page = 1 }) {
  const params = new URLSearchParams();
  if (q) params.set("q", q);
  if (available) params.set("available", "1");
  if (author) params.set("author", author);
  if (language) params.set("language", language);
  if (page > 1) params.set("page", String(page));
  const query = params.toString();
  return query ? `#/?${query}` : "#/";
}

export function titleCard(title) {
  const counts = titleAvailability(title);
  const about = [title.publication_year, languageName(title.language)].filter(Boolean).join(" · ");
  return h("li", { class: "book-card" },
    h("h3", {}, h("a", { href: `#/titles/${title.title_id}` }, title.title)),
    h("p", { class: "author" }, `by ${title.author}`),
    about ? h("p", { class: "about" }, about) : null,
    h("p", { class: `availability availability-${counts.kind}` },
      h("span", { "aria-hidden": "true" }, counts.icon), " ", counts.words),
    counts.waiting ? h("p", { class: "hint" }, counts.waiting) : null);
}

export async function cataloguePage(app, params) {
  const q = (params.get("q") || "").trim();
  const available = params.get("available") === "1";
  const author = params.get("author") || "";
  const language = params.get("language") || "";
  const page = Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1);
  const focusResults = Boolean(app.state.focusResults);
  const focusId = app.state.focusId;
  const here = { q, available, author, language };

  const search = h("input", { id: "q", name: "q", type: "search", value: q, autocomplete: "off",
    "aria-describedby": "q-hint" });
  const onlyAvailable = h("input", { id: "available", name: "available", type: "checkbox", checked: available });
  const availableCount = h("span", { class: "count" });
  const form = h("form", { role: "search", class: "search", "aria-label": "Search the catalogue",
    onsubmit: (event) => {
      event.preventDefault();
      app.go(catalogueHash({ q: search.value.trim(), available: onlyAvailable.checked }), { focusResults: true });
    } },
    h("div", { class: "field" }, h("label", { for: "q" }, "Title, author or ISBN"), search,
      h("p", { id: "q-hint", class: "hint" }, "For example: Austen, Hobbit or 9780547928227")),
    h("div", { class: "check" }, onlyAvailable, h("label", { for: "available" }, "Available only", availableCount)),
    h("button", { type: "submit" }, "Search"));
  // Ticking the filter searches at once; focus stays on the checkbox and the count is announced.
  onlyAvailable.addEventListener("change", () => {
    app.go(catalogueHash({ ...here, q: search.value.trim(), available: onlyAvailable.checked }), { focusId: "available" });
  });

  let result;
  try {
    result = await app.api.titles({ q, available, author, language, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE });
  } catch (error) {
    return [h("h1", {}, "Find a book"), form, h("p", { role: "alert", class: "outcome outcome-error" }, explain(error))];
  }
  const availableTitles = result.facets && result.facets.availability ? result.facets.availability.available : null;
  if (availableTitles !== null) availableCount.textContent = ` (${availableTitles})`;
  const pages = Math.max(1, Math.ceil(result.total / PAGE_SIZE));
  const summary = result.total === 0 ? "No books found"
    : `${result.total} ${result.total === 1 ? "book" : "books"} found${pages > 1 ? `, page ${page} of ${pages}` : ""}`;
  const heading = h("h2", { id: "results-heading", tabindex: "-1" }, summary);
  const filtered = available || author || language;
  const list = result.items.length
    ? h("ul", { class: "book-list", "aria-labelledby": "results-heading" }, result.items.map(titleCard))
    : h("p", {}, filtered ? "Try without the filters, or search for something else." : "Try another title, author or ISBN.");
  const toPage = (n) => catalogueHash({ ...here, page: n });
  const pager = pages > 1 ? h("nav", { class: "pager", "aria-label": "Result pages" },
    page > 1 ? h("a", { href: toPage(page - 1), rel: "prev" }, "← Previous page") : null,
    h("span", { class: "page-of" }, `Page ${page} of ${pages}`),
    page < pages ? h("a", { href: toPage(page + 1), rel: "next" }, "Next page →") : null) : null;

  app.afterRender(() => {
    announce(summary);
    if (focusResults) focus(heading);
    else if (focusId) focus(document.getElementById(focusId));
  });
  return [h("h1", {}, "Find a book"), form, refine(app, here, result.facets || {}),
    h("section", { class: "results", "aria-labelledby": "results-heading" }, heading,
      q && result.total > 1 ? h("p", { class: "hint" }, "Best matches first.") : null, list, pager)];
}

// The facets as filters: links that narrow the results (the chosen one marked, with a way back).
function refine(app, here, facets) {
  const groups = [
    { name: "author", heading: "Author", any: "Any author", values: facets.author || [], words: (v) => v },
    { name: "language", heading: "Language", any: "Any language", values: facets.language || [], words: languageName },
  ].filter((group) => group.values.length > 1 || here[group.name]);
  if (!groups.length) return null;
  const go = (hash) => (event) => {
    event.preventDefault();
    app.go(hash, { focusResults: true });
  };
  return h("section", { class: "refine", "aria-labelledby": "refine-heading" },
    h("h2", { id: "refine-heading" }, "Narrow the results"),
    groups.map((group) => {
      const chosen = here[group.name];
      const link = (value, text, count) => {
        const hash = catalogueHash({ ...here, [group.name]: value, page: 1 });
        const current = chosen === value;
        return h("li", {}, h("a", { href: hash, onclick: go(hash), "aria-current": current ? "true" : false,
          class: current ? "chosen" : false },
        current ? h("span", { "aria-hidden": "true" }, "✓ ") : null, text,
        count !== undefined ? h("span", { class: "count" }, ` (${count})`) : null));
      };
      const id = `facet-${group.name}`;
      return h("div", { class: "facet" },
        h("h3", { id }, group.heading),
        h("ul", { "aria-labelledby": id },
          chosen ? link("", group.any) : null,
          group.values.map((facet) => link(facet.value, group.words(facet.value), facet.count))));
    }));
}
