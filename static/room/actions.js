// What the buttons inside messages do: tap to reveal the toolbar (phones
// have no hover), edit, delete, react, reply (and jump to the original
// from a reply's quote), reply privately, and who reacted
// (asked for when a reaction chip is hovered or focused). One delegated click
// listener on the log (`LOG_ACTIONS`, wired in main.js) handles them all,
// so re-rendered messages need no wiring. Owns which message is tapped;
// the popups themselves are popups.js's.
//
// Edits, deletions and reactions change the page only when the server
// confirms them (frames.js), so every client shows the same thing; until
// then an edited or deleted message looks dimmed (`is-pending`).

import { startPrivateMessage, startReply } from "./composer.js";
import { button, el, fitHeight, isPlainEnter } from "./dom.js";
import { jumpTo } from "./jump.js";
import { toggleMessageMenu } from "./moderate.js";
import { showNotice } from "./notice.js";
import { coarsePointer, log, MAX_CHARS, narrowScreen } from "./page.js";
import { askDelete, closePopups, onPickerKey, togglePicker } from "./popups.js";
import { messageText, reactorsMissing } from "./render.js";
import { send } from "./socket.js";
import { canMarkUnread, markUnread } from "./unread.js";
import { charCount } from "./values.js";

const EDITOR_MAX_LINES = 10;
const NOT_CONNECTED = "Not connected. Try again once you are back online.";

/** The message whose actions are shown after a tap (phones have no hover). */
let activeItem = null;

/**
 * Phones have no hover: a tap on a message shows its toolbar (one at a
 * time, until the action is done or someone taps elsewhere).
 */
function setActive(item) {
  if (activeItem === item) return;
  if (activeItem) activeItem.classList.remove("is-active");
  activeItem = item;
  if (!item) return;
  item.classList.add("is-active");
  // On phones the toolbar opens below the bubble; keep it on screen.
  const bar = item.querySelector(".message-actions");
  if (bar && narrowScreen.matches) bar.scrollIntoView({ block: "nearest" });
}

/** `item` left the log (log.js): it is no longer the tapped message. */
export function forget(item) {
  if (activeItem === item) activeItem = null;
}

/** The log was emptied: no message is tapped. */
export function forgetAll() {
  activeItem = null;
}

/** "Mark as unread": the marker goes back to just before `item` (the room must be one of mine). */
function markUnreadHere(item) {
  setActive(null);
  if (!canMarkUnread()) {
    showNotice("Join this room to keep track of what you have read.");
    return;
  }
  if (!markUnread(item)) showNotice(NOT_CONNECTED);
}

/** Edits and deletes waiting for the server look dimmed; clear them once it refused or went away. */
export function clearPending() {
  for (const item of log.querySelectorAll(".message.is-pending")) item.classList.remove("is-pending");
}

// ---------------------------------------------------------------------
// Editing. The text on screen changes only when the server confirms
// (message_edited), so every client shows the same thing.
// ---------------------------------------------------------------------

function startEdit(item) {
  closePopups();
  const open = log.querySelector(".message.is-editing");
  if (open && open !== item) closeEditor(open);
  if (item.classList.contains("is-editing")) {
    item.querySelector(".edit-input").focus();
    return;
  }

  const text = item.querySelector(".message-text");
  const area = el("textarea", "edit-input");
  area.value = messageText(item); // as typed, not as formatted
  area.rows = 1;
  area.setAttribute("aria-label", "Edit message");

  const bar = el("div", "edit-bar");
  const hint = el("span", "edit-hint", "Enter to save · Esc to cancel");
  const buttons = el("span", "edit-buttons");
  buttons.append(button("btn btn-ghost btn-sm edit-cancel", "Cancel"), button("btn btn-primary btn-sm edit-save", "Save"));
  bar.append(hint, buttons);

  const editor = el("div", "message-editor");
  editor.append(area, bar);
  item.classList.add("is-editing");
  text.hidden = true;
  text.after(editor);

  fitHeight(area, EDITOR_MAX_LINES);
  editor.scrollIntoView({ block: "nearest" });
  area.focus({ preventScroll: true });
  area.setSelectionRange(area.value.length, area.value.length);
}

function closeEditor(item) {
  const editor = item.querySelector(".message-editor");
  if (!editor) return;
  const hadFocus = editor.contains(document.activeElement);
  editor.remove();
  item.querySelector(".message-text").hidden = false;
  item.classList.remove("is-editing");
  setActive(null);
  // Back to the edit button for keyboard users. Not on touch screens: after
  // Enter on an on-screen keyboard that focus counts as keyboard focus and
  // shows the toolbar (opening a gap under the bubble, style.css section
  // 15), and the next tap, which takes the focus away, would close that gap
  // under the finger and land on whatever moved there.
  if (hadFocus && !coarsePointer.matches) item.querySelector(".action-edit").focus({ preventScroll: true });
}

function saveEdit(item) {
  const area = item.querySelector(".edit-input");
  if (!area) return;
  const text = area.value;
  if (text === messageText(item)) {
    closeEditor(item); // unchanged: nothing to send
    return;
  }
  if (text.trim() === "") {
    showNotice("A message can't be empty. To remove it, delete it instead.");
    return;
  }
  const n = charCount(text);
  if (n > MAX_CHARS) {
    showNotice(`Your message is ${n} characters long; the limit is ${MAX_CHARS}.`);
    return;
  }
  if (!send({ type: "edit_message", id: Number(item.dataset.id), message: text })) {
    showNotice(NOT_CONNECTED);
    return;
  }
  closeEditor(item);
  item.classList.add("is-pending"); // until message_edited (or an error) arrives
}

function onEditorKey(event, item) {
  if (isPlainEnter(event)) {
    event.preventDefault();
    saveEdit(item);
  } else if (event.key === "Escape") {
    event.preventDefault();
    event.stopPropagation();
    closeEditor(item);
  }
}

// ---------------------------------------------------------------------
// Deleting (asked in popups.js) and reacting (picked in popups.js)
// ---------------------------------------------------------------------

function confirmDelete(item) {
  closePopups();
  setActive(null);
  if (!send({ type: "delete_message", id: Number(item.dataset.id) })) {
    showNotice(NOT_CONNECTED);
    return;
  }
  item.classList.add("is-pending");
}

function cancelPopup(item) {
  const opener = closePopups();
  setActive(null);
  // Focus goes back for keyboard users; style.css shows the toolbar only
  // when that focus is keyboard focus (:focus-visible), not after a tap.
  const back = opener || item.querySelector(".action-react");
  if (back) back.focus({ preventScroll: true });
}

function react(item, emoji) {
  if (!emoji) return;
  if (!send({ type: "react", id: Number(item.dataset.id), emoji })) showNotice(NOT_CONNECTED);
}

function pickReaction(item, emoji) {
  const opener = closePopups();
  setActive(null);
  react(item, emoji);
  (opener || item.querySelector(".action-react")).focus({ preventScroll: true });
}

// ---------------------------------------------------------------------
// Who reacted. A chip names at most three people; hovering or focusing it
// asks the server for everyone (`reactors`), one request at a time (the
// server answers one at a time and refuses a second as too fast).
// ---------------------------------------------------------------------

/** Give up waiting for a `reactors` answer after this long. */
const REACTORS_PATIENCE_MS = 10000;
/** When the `reactors` request out was sent (0: none out). */
let reactorsAskedAt = 0;

function askReactors(item, emoji) {
  if (!emoji || !reactorsMissing(item, emoji)) return;
  if (reactorsAskedAt !== 0 && Date.now() - reactorsAskedAt < REACTORS_PATIENCE_MS) return;
  if (send({ type: "reactors", id: Number(item.dataset.id), emoji })) reactorsAskedAt = Date.now();
}

/** The `reactors` request out was answered, or never will be (socket gone). */
export function reactorsAnswered() {
  reactorsAskedAt = 0;
}

/** A pointer over, or focus on, something in the log: a chip asks who reacted. */
export function onLogHover(event) {
  const chip = event.target.closest && event.target.closest(".reaction-chip");
  if (chip && log.contains(chip)) askReactors(chip.closest(".message"), chip.dataset.emoji);
}

// ---------------------------------------------------------------------
// Events in the log and on the page
// ---------------------------------------------------------------------

/** Clicks inside the log, by the first selector the clicked element matches. */
const LOG_ACTIONS = [
  ["[data-pm-to]", (target) => startPrivateMessage(target.dataset.pmTo)],
  [".action-react, .reaction-add", (target, item) => togglePicker(item, target)],
  [".reaction-option", (target, item) => pickReaction(item, target.dataset.emoji)],
  [".reaction-chip", (target, item) => react(item, target.dataset.emoji)],
  [".action-reply", (_, item) => {
    closePopups();
    setActive(null);
    startReply(item);
  }],
  [".message-quote", (target) => jumpTo(Number(target.dataset.replyTo))],
  [".action-edit", (_, item) => startEdit(item)],
  [".edit-save", (_, item) => saveEdit(item)],
  [".edit-cancel", (_, item) => closeEditor(item)],
  [".action-delete", (_, item) => askDelete(item)],
  [".action-unread", (_, item) => markUnreadHere(item)],
  [".action-more", (target, item) => {
    closePopups();
    toggleMessageMenu(item, target);
  }],
  [".confirm-delete", (_, item) => confirmDelete(item)],
  [".cancel-delete", (_, item) => cancelPopup(item)],
];

export function onLogClick(event) {
  // A click outside an open popup closes it; its opener toggles it instead.
  if (!event.target.closest(".reaction-picker, .delete-confirm, .action-react, .reaction-add")) closePopups();
  for (const [selector, action] of LOG_ACTIONS) {
    const target = event.target.closest(selector);
    if (target && log.contains(target)) {
      action(target, target.closest(".message"));
      return;
    }
  }
  if (event.target.closest("button, textarea, a, .reaction-picker, .delete-confirm")) return;
  // A tap elsewhere on a message toggles its toolbar; anywhere else hides it.
  const item = event.target.closest(".message[data-id]");
  setActive(item && item !== activeItem ? item : null);
}

export function onLogKeydown(event) {
  const editor = event.target.closest(".edit-input");
  if (editor) {
    onEditorKey(event, editor.closest(".message"));
    return;
  }
  const option = event.target.closest(".reaction-option");
  if (option && onPickerKey(event, option)) return;
  if (event.key !== "Escape") return;
  const opener = closePopups();
  if (opener) opener.focus({ preventScroll: true });
  setActive(null);
}

/** Typing in the log: an edit box grows with its text. */
export function onLogInput(event) {
  if (event.target.classList.contains("edit-input")) fitHeight(event.target, EDITOR_MAX_LINES);
}

/** A click outside the log closes the picker and hides a tapped toolbar. */
export function onPageClick(event) {
  // A button that removed itself (Save, Delete, a picked emoji) is no longer
  // in the log, but its click was still inside it.
  if (!event.target.isConnected || log.contains(event.target)) return;
  closePopups();
  setActive(null);
}
