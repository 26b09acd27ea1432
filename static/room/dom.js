// Building and sizing elements. The room page's security rule lives here:
// every string that came from a user or from the server goes into the page
// through textContent / createTextNode / dataset / setAttribute only (as
// `el` and `button` do). Never innerHTML and friends.

/** A new `<tag class=className>`, with `text` as its text if given. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A <button type="button">; `label` is also its tooltip when given. */
export function button(className, text, label) {
  const b = el("button", className, text);
  b.type = "button";
  if (label) {
    b.setAttribute("aria-label", label);
    b.title = label;
  }
  return b;
}

const SVG_NS = "http://www.w3.org/2000/svg";
/** Stroke icons (24×24) for the message toolbar; drawn in currentColor by style.css. */
const ICONS = {
  react: [
    "M12 21a9 9 0 1 1 0-18 9 9 0 0 1 0 18z",
    "M8.5 14c.9 1.2 2.1 1.8 3.5 1.8s2.6-.6 3.5-1.8",
    "M9 9.5h.01",
    "M15 9.5h.01",
  ],
  edit: ["M4 20h4L18.5 9.5a2.1 2.1 0 0 0-3-3L5 17v3z", "M13.5 8.5l3 3"],
  reply: ["M10 8L5 12.5l5 4.5", "M5 12.5h8.5a5.5 5.5 0 0 1 5.5 5.5v1"],
  close: ["M6 6l12 12", "M18 6L6 18"],
  unread: ["M4 6h16v12H4z", "M4 7l8 6 8-6", "M19 4.5h.01"],
  more: ["M5.5 12h.01", "M12 12h.01", "M18.5 12h.01"],
  delete: ["M4 7h16", "M9 7V4h6v3", "M6 7l1 12a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2l1-12", "M10 11v6", "M14 11v6"],
};

/** One of the icons above (`react`, `reply`, `edit`, `delete`, `close`, `unread`, `more`). */
export function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  for (const d of ICONS[name]) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

/** Grows a textarea with its content up to `maxLines`, then lets it scroll. */
export function fitHeight(area, maxLines) {
  // CSSOM writes are allowed under the CSP (only style="" attributes are not).
  if (area.value === "") {
    // Back to one row; measuring now would size the box to a wrapped placeholder.
    area.style.height = "";
    area.style.overflowY = "hidden";
    return;
  }
  const cs = getComputedStyle(area);
  const line = Number.parseFloat(cs.lineHeight) || Number.parseFloat(cs.fontSize) * 1.4;
  const chrome = ["paddingTop", "paddingBottom", "borderTopWidth", "borderBottomWidth"]
    .reduce((sum, prop) => sum + (Number.parseFloat(cs[prop]) || 0), 0);
  const max = Math.ceil(line * maxLines + chrome);
  area.style.height = "auto";
  const borders = area.offsetHeight - area.clientHeight;
  const wanted = area.scrollHeight + borders;
  area.style.height = `${Math.min(wanted, max)}px`;
  area.style.overflowY = wanted > max ? "auto" : "hidden";
}

/** Enter without Shift, and not the Enter that confirms an IME composition. */
export function isPlainEnter(event) {
  return event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229;
}
