// The composer's @ autocomplete: typing `@` and the start of a name offers
// the room's people in a listbox under the caret's line (#mention-suggest):
// who is online first, then the recent authors and members the server lists
// at /chat/<room>/members.json (loaded once, when first needed, and again
// after a while). Arrow keys move, Enter or Tab take a name, Escape closes;
// a tap or click takes one too. The text box follows the ARIA combobox
// pattern (aria-expanded, aria-controls, aria-activedescendant), so a
// screen reader announces the suggestion in focus.
//
// Mentions themselves are found by the server (src/domain/mention.rs); the
// rule for where one may start is repeated in `TOKEN` below.

import { el } from "./dom.js";
import { input, ME, ROOM } from "./page.js";
import { onlineNames } from "./presence.js";

/** The most suggestions shown at once. */
const MAX_SHOWN = 8;
/** The members list is fetched again when older than this. */
const MEMBERS_FRESH_MS = 60_000;
/**
 * `@` and a name being typed, right before the caret: the `@` starts the
 * text or follows a character that cannot be part of a name (so
 * `mail@host` offers nothing), as on the server.
 */
const TOKEN = /(?:^|[^\p{L}\p{N}._@+-])@([A-Za-z0-9._@+-]{0,32})$/u;

let members = [];
let membersAt = 0;
let loading = null;
/** The open list: where the token starts in the text, the names shown, the one in focus. */
let open = null;

const list = el("ul", "mention-suggest");
list.id = "mention-suggest";
list.setAttribute("role", "listbox");
list.setAttribute("aria-label", "People to mention");
list.hidden = true;

/** Puts the list beside the text box and wires the box's ARIA; once, from main.js. */
export function setUpMentions() {
  input.closest(".composer-row")?.append(list);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-expanded", "false");
  // pointerdown, not click: the text box keeps its focus (and a phone its keyboard).
  list.addEventListener("pointerdown", (event) => {
    const option = event.target.closest("[role=option]");
    if (!option) return;
    event.preventDefault();
    take(option.dataset.name);
  });
  input.addEventListener("blur", close);
}

function loadMembers() {
  if (loading || Date.now() - membersAt < MEMBERS_FRESH_MS) return;
  loading = fetch(`/chat/${encodeURIComponent(ROOM)}/members.json`, { credentials: "same-origin" })
    .then((res) => (res.ok ? res.json() : { members: [] }))
    .then((body) => {
      members = Array.isArray(body.members) ? body.members.filter((n) => typeof n === "string") : [];
      membersAt = Date.now();
    })
    .catch(() => {})
    .finally(() => {
      loading = null;
      // The list may be waiting for these names.
      if (open) suggest();
    });
}

/** Names for `prefix`: online people first, then the server's order; those starting with it before those containing it. */
function candidates(prefix) {
  const wanted = prefix.toLowerCase();
  const online = new Set(onlineNames());
  const seen = new Set();
  const starts = [];
  const contains = [];
  for (const name of [...[...online].sort(), ...members]) {
    const key = name.toLowerCase();
    if (seen.has(key) || key === ME.toLowerCase()) continue;
    seen.add(key);
    if (key.startsWith(wanted)) starts.push(name);
    else if (wanted && key.includes(wanted)) contains.push(name);
  }
  return { names: [...starts, ...contains].slice(0, MAX_SHOWN), online };
}

/** After the text or the caret changed: opens, updates or closes the list. */
export function suggest() {
  const caret = input.selectionStart;
  if (caret !== input.selectionEnd) return close();
  const match = TOKEN.exec(input.value.slice(0, caret));
  if (!match) return close();
  loadMembers();
  const { names, online } = candidates(match[1]);
  if (names.length === 0) return close();
  const previous = open?.names[open.active];
  const active = Math.max(0, names.indexOf(previous));
  open = { start: caret - match[1].length - 1, end: caret, names, active };
  list.replaceChildren(...names.map((name, i) => {
    const option = el("li", "mention-option", name);
    option.id = `mention-option-${i}`;
    option.dataset.name = name;
    option.setAttribute("role", "option");
    if (online.has(name)) {
      option.classList.add("mention-option-online");
      option.setAttribute("aria-description", "online");
    }
    return option;
  }));
  list.hidden = false;
  input.setAttribute("aria-expanded", "true");
  highlight();
}

function highlight() {
  list.querySelectorAll("[role=option]").forEach((option, i) => {
    option.setAttribute("aria-selected", String(i === open.active));
  });
  const current = list.children[open.active];
  input.setAttribute("aria-activedescendant", current.id);
  current.scrollIntoView({ block: "nearest" });
}

export function close() {
  open = null;
  list.hidden = true;
  list.replaceChildren();
  input.setAttribute("aria-expanded", "false");
  input.removeAttribute("aria-activedescendant");
}

/** Puts `@name ` where the typed token was. */
function take(name) {
  if (!open || !name) return;
  const { start, end } = open;
  const before = input.value.slice(0, start);
  const after = input.value.slice(end);
  const inserted = `@${name}${after.startsWith(" ") ? "" : " "}`;
  input.value = before + inserted + after;
  const caret = before.length + inserted.length;
  input.setSelectionRange(caret, caret);
  close();
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

/**
 * Keys while the list is open; registered before the composer's own keydown
 * handler, so Enter takes a name instead of sending. True if handled.
 */
export function onMentionKeydown(event) {
  if (!open || event.isComposing) return false;
  const n = open.names.length;
  switch (event.key) {
    case "ArrowDown":
      open.active = (open.active + 1) % n;
      highlight();
      break;
    case "ArrowUp":
      open.active = (open.active + n - 1) % n;
      highlight();
      break;
    case "Enter":
    case "Tab":
      if (event.shiftKey) return false;
      take(open.names[open.active]);
      break;
    case "Escape":
      close();
      break;
    default:
      return false;
  }
  event.preventDefault();
  event.stopImmediatePropagation();
  return true;
}
