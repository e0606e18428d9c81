// The library API, on this page's own origin. The only code that sends the ID token, and it
// refuses any URL that is not a same-origin path. Every state-changing request carries an
// Idempotency-Key; a request that never got an answer is retried once with the same key.
export class ApiError extends Error {
  constructor(status, problem = {}, retryAfter = null) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

export function newKey() {
  if (window.crypto.randomUUID) return window.crypto.randomUUID();
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function createApi(auth, { onSessionEnded }) {
  async function call(method, path, { body, signedIn = false, key } = {}) {
    if (!/^\/(?!\/)/.test(path)) throw new Error("The API is only reached by same-origin paths.");
    const headers = { Accept: "application/json, application/problem+json" };
    if (signedIn) {
      const token = auth.token();
      if (!token) {
        await onSessionEnded();
        throw new ApiError(401, { detail: "Please sign in again." });
      }
      headers.Authorization = `Bearer ${token}`;
    }
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["Idempotency-Key"] = key || newKey();
    const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", cache: "no-store", redirect: "error", referrerPolicy: "no-referrer" };
    let response;
    for (let attempt = 1; !response; attempt += 1) {
      try {
        response = await fetch(path, init);
      } catch (error) {
        if (attempt >= 2) throw new ApiError(0, { detail: "We could not reach the library. Check your connection and try again." });
      }
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (error) { data = null; }
    if (response.ok) return data;
    if (response.status === 401 && signedIn) await onSessionEnded();
    throw new ApiError(response.status, data || {}, response.headers.get("Retry-After"));
  }

  const get = (path, options) => call("GET", path, options);
  const post = (path, body, options = {}) => call("POST", path, { ...options, body, signedIn: true });
  const del = (path, options = {}) => call("DELETE", path, { ...options, signedIn: true });
  const id = encodeURIComponent;
  return {
    titles: ({ q, available, author, language, limit, offset }) => {
      const params = new URLSearchParams({ limit: String(limit), offset: String(offset) });
      if (q) params.set("q", q);
      if (available) params.set("available", "true");
      if (author) params.set("author", author);
      if (language) params.set("language", language);
      return get(`/titles?${params}`);
    },
    title: (titleId) => get(`/titles/${id(titleId)}`),
    titleQueue: (titleId) => get(`/titles/${id(titleId)}/holds`, { signedIn: true }),
    borrowTitle: (titleId, paymentMethod, key) => post(`/titles/${id(titleId)}/borrow`, { payment_method: paymentMethod }, { key }),
    placeHold: (titleId, key) => post(`/titles/${id(titleId)}/holds`, undefined, { key }),
    myHolds: () => get("/me/holds", { signedIn: true }),
    cancelHold: (holdId, key) => del(`/me/holds/${id(holdId)}`, { key }),
    renew: (loanId, paymentMethod, key) => post(`/me/loans/${id(loanId)}/renew`, { payment_method: paymentMethod }, { key }),
    books: ({ q, available, limit, offset }) => {
      const params = new URLSearchParams({ limit: String(limit), offset: String(offset) });
      if (q) params.set("q", q);
      if (available) params.set("status", "available");
      return get(`/books?${params}`);
    },
    book: (id) => get(`/books/${encodeURIComponent(id)}`),
    me: () => get("/me", { signedIn: true }),
    myLoans: () => get("/me/loans", { signedIn: true }),
    myPurchases: () => get("/me/purchases", { signedIn: true }),
    allLoans: () => get("/loans", { signedIn: true }),
    borrow: (id, paymentMethod, key) => post(`/books/${encodeURIComponent(id)}/borrow`, { payment_method: paymentMethod }, { key }),
    buy: (id, paymentMethod, key) => post(`/books/${encodeURIComponent(id)}/purchase`, { payment_method: paymentMethod }, { key }),
    giveBack: (id, key) => post(`/books/${encodeURIComponent(id)}/return`, undefined, { key }),
    addBook: (book, key) => post("/books", book, { key }),
    myNotices: () => get("/me/notices", { signedIn: true }),
    myPreferences: () => get("/me/preferences", { signedIn: true }),
    setReminders: (on, key) => call("PUT", "/me/preferences", { body: { reminders: on }, signedIn: true, key }),
  };
}
