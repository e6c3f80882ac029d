// A few DOM helpers. Text from the API is only ever set as text (never as HTML), and
// no element gets an inline style attribute (the page's Content-Security-Policy
// refuses them): looks come from classes in console.css.

/**
 * Make an element: h("a", {href: "#/risk", class: "nav"}, "Risk").
 * Attributes starting with "on" are listeners; `dataset` sets data-* attributes;
 * `hidden`, `disabled`, `checked`, `selected` and `required` are booleans.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name === "class") {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * A notice: an empty state, an error or a hint, saying what to do.
 * kind: "empty" | "error" | "info" | "warning".
 */
export function notice(kind, title, ...what) {
  const role = kind === "error" ? "alert" : "status";
  return h("div", { class: ["notice", `notice-${kind}`], role }, h("strong", {}, title), what.length ? h("p", {}, ...what) : null);
}

/**
 * A table: columns are {label, cell(row) -> Node|string, class?, numeric?};
 * `empty` (a notice) is shown instead when there are no rows.
 */
export function table(columns, rows, { empty = null, caption = null, testid = null, rowKey = null } = {}) {
  if (!rows.length && empty) return empty;
  const head = h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.numeric ? "num" : c.class }, c.label))));
  const body = h(
    "tbody",
    {},
    rows.map((row) =>
      h(
        "tr",
        rowKey ? { dataset: { key: rowKey(row) } } : {},
        columns.map((c) => h("td", { class: [c.numeric ? "num" : "", c.class] }, c.cell(row))),
      ),
    ),
  );
  return h("div", { class: "table-wrap" }, h("table", { "data-testid": testid }, caption ? h("caption", {}, caption) : null, head, body));
}

/** A figure with a tone class (positive/negative) for signed numbers. */
export function toned(text, toneClass) {
  return h("span", { class: ["figure", toneClass] }, text);
}

/** A panel: a titled section of a page. */
export function panel(title, { id, actions = null, testid = null, wide = false } = {}, ...body) {
  const headingId = id ? `${id}-title` : undefined;
  return h(
    "section",
    { class: ["panel", wide ? "panel-wide" : ""], id, "aria-labelledby": headingId, "data-testid": testid },
    h("header", { class: "panel-head" }, h("h2", { id: headingId }, title), actions),
    h("div", { class: "panel-body" }, ...body),
  );
}

/** A key figure: a label and a value (the value element is returned too). */
export function kpi(label, { testid, hint = null } = {}) {
  const value = h("span", { class: "kpi-value", "data-testid": testid }, "\u2013");
  const sub = h("span", { class: "kpi-sub" }, hint || "");
  const card = h("div", { class: "kpi" }, h("span", { class: "kpi-label" }, label), value, sub);
  return { card, value, sub };
}

/** A pill naming a state, coloured by its class (state-active, state-halted...). */
export function statePill(state, testid = null) {
  const text = state || "UNKNOWN";
  return h("span", { class: ["pill", `state-${text.toLowerCase()}`], "data-testid": testid }, text);
}

/** Wait for the next animation frame (so a page is laid out before a chart sizes). */
export function nextFrame() {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}
