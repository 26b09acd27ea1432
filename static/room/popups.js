// The two popups a message can open, at most one at a time: the reaction
// picker and the delete confirmation. Owns which button opened the picker
// (focus goes back to it, and render.js hands it over when it re-renders a
// message's reactions). What a pick or a confirmation does is actions.js's.

import { button, el } from "./dom.js";
import { log, narrowScreen } from "./page.js";

/**
 * The reaction picker, a grid of common emoji, each with the name screen
 * readers and tooltips give it. Any single emoji is valid on the wire.
 */
const REACTION_EMOJI = [
  ["👍", "thumbs up"], ["❤️", "heart"], ["😂", "tears of joy"], ["🎉", "party popper"],
  ["😮", "open mouth"], ["😢", "crying"], ["🙏", "folded hands"], ["👀", "eyes"],
  ["😊", "smiling eyes"], ["😍", "heart eyes"], ["🤣", "rolling on the floor laughing"], ["😅", "sweat smile"],
  ["😎", "sunglasses"], ["🤔", "thinking"], ["😬", "grimacing"], ["😡", "angry"],
  ["👎", "thumbs down"], ["👏", "clapping"], ["🙌", "raised hands"], ["💪", "flexed biceps"],
  ["👋", "waving hand"], ["🤝", "handshake"], ["👌", "OK hand"], ["✌️", "victory hand"],
  ["🔥", "fire"], ["✨", "sparkles"], ["💯", "hundred points"], ["✅", "check mark"],
  ["❌", "cross mark"], ["🚀", "rocket"], ["🥳", "partying face"], ["🤯", "mind blown"],
];

/** The button that opened the reaction picker; focus goes back to it. */
let pickerOpener = null;

/**
 * Closes the reaction picker and any delete confirmation; returns the
 * button that opened the popup (for focus to go back to), if there was one.
 */
export function closePopups() {
  let opener = null;
  for (const popup of log.querySelectorAll(".reaction-picker, .delete-confirm")) {
    opener = popup.classList.contains("reaction-picker")
      ? pickerOpener
      : popup.closest(".message").querySelector(".action-delete");
    popup.remove();
  }
  if (pickerOpener !== null) pickerOpener.setAttribute("aria-expanded", "false");
  pickerOpener = null;
  return opener !== null && opener.isConnected ? opener : null;
}

/** Shows a freshly opened popup inside a message, scrolled into view, focused. */
function openPopup(item, popup, focusTarget) {
  item.querySelector(".message-body").after(popup);
  popup.scrollIntoView({ block: "nearest" });
  focusTarget.focus({ preventScroll: true });
}

// Deleting: confirmed inline, removed when the server says message_deleted.

/** Asks "Delete this message?" inside `item`. */
export function askDelete(item) {
  closePopups();
  const box = el("div", "delete-confirm");
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", "Confirm delete");
  const cancel = button("btn btn-ghost btn-sm cancel-delete", "Cancel");
  box.append(
    el("span", "delete-confirm-text", "Delete this message?"),
    button("btn btn-danger btn-sm confirm-delete", "Delete"),
    cancel,
  );
  openPopup(item, box, cancel); // focus on the harmless choice
}

// Reactions: every click is a toggle on the server; chips change only when
// its `reaction` frame (what changed) arrives.

/**
 * Opens the picker (a popover over the log; a bottom sheet on phones),
 * or closes it if `opener` had opened it. One tab stop: the arrow keys,
 * Home and End move inside it, Enter picks, Escape, a click outside or
 * Tab away close it.
 */
export function togglePicker(item, opener) {
  const wasOpen = opener === pickerOpener;
  closePopups();
  if (wasOpen) return;

  const picker = el("div", "reaction-picker");
  picker.setAttribute("role", "dialog");
  picker.setAttribute("aria-label", "Add a reaction");
  const grid = el("div", "reaction-grid");
  for (const [emoji, name] of REACTION_EMOJI) {
    const option = button("reaction-option", emoji, name);
    option.dataset.emoji = emoji;
    option.tabIndex = -1;
    grid.append(option);
  }
  const first = grid.firstElementChild;
  first.tabIndex = 0;
  picker.append(grid);
  picker.addEventListener("focusout", (event) => {
    // Focus moving elsewhere (not to nowhere, as on a click on the page:
    // the click handlers decide then) closes it.
    const to = event.relatedTarget;
    if (to !== null && !picker.contains(to) && to !== pickerOpener && picker.isConnected) closePopups();
  });

  pickerOpener = opener;
  opener.setAttribute("aria-expanded", "true");
  item.append(picker);
  placePicker(item, picker);
  first.focus({ preventScroll: true });
}

/** Below the message if it fits in the visible log, else above if there is more room there. */
function placePicker(item, picker) {
  if (narrowScreen.matches) return; // a bottom sheet (style.css, section 15)
  const view = log.getBoundingClientRect();
  const box = item.getBoundingClientRect();
  const below = view.bottom - box.bottom;
  const above = box.top - view.top;
  if (picker.offsetHeight > below && above > below) picker.classList.add("is-above");
  picker.scrollIntoView({ block: "nearest" });
}

/** Moves focus in the picker's grid for arrow keys, Home and End; true if the key was one. */
export function onPickerKey(event, option) {
  const grid = option.parentElement;
  const options = [...grid.children];
  const columns = getComputedStyle(grid).gridTemplateColumns.split(" ").length || 1;
  const at = options.indexOf(option);
  let to;
  switch (event.key) {
    case "ArrowLeft": to = at - 1; break;
    case "ArrowRight": to = at + 1; break;
    case "ArrowUp": to = at - columns; break;
    case "ArrowDown": to = at + columns; break;
    case "Home": to = 0; break;
    case "End": to = options.length - 1; break;
    default: return false;
  }
  event.preventDefault();
  const next = options[to];
  if (next) {
    option.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  }
  return true;
}

/**
 * `row`'s reaction buttons are about to be replaced: if one of them opened
 * the picker, the picker stays open and now belongs to `add`, the new
 * "add reaction" button.
 */
export function handOverPicker(row, add) {
  if (pickerOpener !== null && row.contains(pickerOpener)) {
    add.setAttribute("aria-expanded", "true");
    pickerOpener = add;
  }
}
