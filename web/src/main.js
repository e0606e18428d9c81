// The library's single-page app: hash routes (#/, #/titles/<id>, #/books/<id>, #/account, #/librarian), so
// the server only ever serves index.html and the built assets.
import { createApi } from "./api.js";
import { createAuth } from "./auth.js";
import { announce, focus, h, outcome, replace } from "./dom.js";
import { accountPage } from "./pages/account.js";
import { bookPage } from "./pages/book.js";
import { cataloguePage } from "./pages/catalogue.js";
import { librarianPage } from "./pages/librarian.js";
import { deskPage } from "./pages/desk.js";
import { titlePage } from "./pages/title.js";
import { manageTitlePage } from "./pages/catalogue-admin.js";

const LOAN_DAYS = 21;
const main = document.getElementById("main");
const nav = document.getElementById("nav");

async function boot() {
  const config = await (await fetch("/config.json", { cache: "no-store", credentials: "omit" })).json();
  const auth = createAuth(config.oidc);
  const app = {
    config, auth, me: null, loanDays: LOAN_DAYS, state: {},
    pending: [], leaving: [],
    afterRender(fn) { this.pending.push(fn); },
    onLeave(fn) { this.leaving.push(fn); },
    go(hash, state = {}) {
      app.state = state;
      if (window.location.hash === hash) route();
      else window.location.hash = hash;
    },
    refresh(notice) { route({ notice, keepFocus: true }); },
  };
  app.api = createApi(auth, {
    onSessionEnded: () => auth.signInAgain("Your sign-in had ended, so we signed you in again. You can carry on where you left off."),
  });

  const started = await auth.start();
  if (auth.token()) {
    try {
      app.me = await app.api.me();
    } catch (error) {
      app.me = null;
    }
  }
  let first = true;
  let latest = 0;
  let notice = started.problem ? outcome("error", h("p", {}, started.problem))
    : started.note ? outcome("success", h("p", {}, started.note)) : null;

  async function route(options = {}) {
    const ticket = ++latest;
    const initial = first;
    first = false;
    for (const leave of app.leaving.splice(0)) leave();
    app.pending = [];
    const hash = window.location.hash || "#/";
    if (!hash.startsWith("#/")) return;
    const [path, query = ""] = hash.slice(1).split("?");
    const params = new URLSearchParams(query);
    const shown = options.notice || notice;
    notice = null;
    drawNav(app, path);
    main.setAttribute("aria-busy", "true");
    let page;
    let title;
    const bookMatch = /^\/books\/([0-9a-fA-F-]{36})$/.exec(path);
    const titleMatch = /^\/titles\/([0-9a-fA-F-]{36})$/.exec(path);
    const manageMatch = /^\/titles\/([0-9a-fA-F-]{36})\/manage$/.exec(path);
    if (manageMatch) {
      page = await manageTitlePage(app, manageMatch[1], shown);
      title = page.find((node) => node && node.tagName === "H1").textContent;
    } else if (titleMatch) {
      page = await titlePage(app, titleMatch[1], shown);
      title = page.find((node) => node && node.tagName === "H1").textContent;
    } else if (bookMatch) {
      page = await bookPage(app, bookMatch[1], shown);
      title = page.find((node) => node.tagName === "H1").textContent;
    } else if (path === "/account") {
      page = await accountPage(app, shown);
      title = "My account";
    } else if (path === "/librarian") {
      page = await librarianPage(app, shown);
      title = "Librarian";
    } else if (path === "/desk") {
      page = await deskPage(app);
      title = "Desk";
    } else {
      page = await cataloguePage(app, params);
      if (shown) page.splice(1, 0, shown);
      title = "Find a book";
    }
    if (ticket !== latest) return; // a newer navigation has started: it draws the page
    replace(main, page);
    main.removeAttribute("aria-busy");
    document.title = `${title} · City Library`;
    const heading = main.querySelector("h1");
    if (!initial && !options.keepFocus && !app.state.focusResults && !app.state.focusId) {
      focus(heading);
      announce(title);
    }
    if (shown && options.keepFocus) focus(shown);
    const tasks = app.pending.splice(0);
    app.state = {};
    for (const task of tasks) await task();
  }

  window.addEventListener("hashchange", () => route());
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    focus(main);
  });
  await route();
}

function drawNav(app, path) {
  const link = (href, text, current) => h("a", { href, "aria-current": current ? "page" : false }, text);
  const items = [link("#/", "Catalogue", path === "/" || path === "" || path.startsWith("/books") || path.startsWith("/titles"))];
  if (app.auth.token()) {
    items.push(link("#/account", "My account", path === "/account"));
    if (app.me && app.me.is_librarian) items.push(link("#/librarian", "Librarian", path === "/librarian"));
    if (app.me && app.me.is_librarian) items.push(link("#/desk", "Desk", path === "/desk"));
  }
  const who = app.auth.token() ? (app.me && (app.me.name || app.me.handle)) || "you" : null;
  const session = who
    ? h("span", { class: "session" }, h("span", { class: "who" }, `Signed in as ${who}`), " ",
      h("button", { type: "button", class: "link-button", onclick: () => app.auth.signOut() }, "Sign out"))
    : h("button", { type: "button", class: "link-button", onclick: () => app.auth.signIn() }, "Sign in");
  replace(nav, h("ul", {}, items.map((item) => h("li", {}, item))), session);
}

boot().catch(() => {
  replace(main, h("h1", {}, "The library is not available"),
    h("p", { role: "alert" }, "We could not start the library's website. Please reload the page in a moment."));
});
