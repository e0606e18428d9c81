// Small DOM helpers. Text always goes in as text nodes: nothing from the API is parsed as HTML.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

// Announce through the page's polite live region (cleared first so a repeat is read again).
export function announce(text) {
  const region = document.getElementById("status");
  region.textContent = "";
  window.setTimeout(() => { region.textContent = text; }, 50);
}

export function focus(node) {
  if (!node) return;
  if (!node.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(node.tagName)) {
    node.setAttribute("tabindex", "-1");
  }
  node.focus();
}

export function visuallyHidden(text) {
  return h("span", { class: "visually-hidden" }, text);
}

// A box for the outcome of an action: role=alert for problems, role=status for success.
export function outcome(kind, ...children) {
  return h("div", { class: `outcome outcome-${kind}`, role: kind === "error" ? "alert" : "status", tabindex: "-1" },
    ...children);
}
