// The message log (#chat-log): room messages in id order, with system lines
// and private messages in between, #history-status always first, and the
// outbox's posts not yet sent (`.message--outbox`, outbox.js) always last. Owns
// which room messages are on screen (by id), the scroll-back state the
// status line shows, and scrolling: the view sticks to the bottom only if
// the reader is already there, otherwise "New messages" is offered.
//
// Others build the elements (render.js) and decide what goes in (frames.js,
// scrollback.js, sync.js); they find messages here by id.

import { forget } from "./actions.js";
import { historyStatus, log, LABEL, newMessagesButton } from "./page.js";
import { renderSystem } from "./render.js";

/** Same author within this window → one visual group. */
const GROUP_WINDOW_MS = 5 * 60 * 1000;
/** "Near the bottom" tolerance for sticky scrolling, in pixels. */
const NEAR_BOTTOM_PX = 80;
/** Keep the DOM bounded in rooms that stay open for days. */
const MAX_LOG_ITEMS = 1000;

/** Message id → its element: dedupes replays and finds targets of edits, deletes, reactions. */
const messagesById = new Map();
/** Scroll-back: "idle" (older messages may exist), "loading" (one request out) or "done". */
let historyState = "idle";

// ---------------------------------------------------------------------
// Room messages by id
// ---------------------------------------------------------------------

/** The element of room message `id`, if it is on screen (or about to be). */
export function findMessage(id) {
  return messagesById.get(id);
}

/** Notes `item` as room message `id`, before it is put in the log. */
export function registerMessage(id, item) {
  messagesById.set(id, item);
}

/** The ids of the room messages on screen, in no particular order. */
export function messageIds() {
  return [...messagesById.keys()];
}

// ---------------------------------------------------------------------
// The scroll-back status line
// ---------------------------------------------------------------------

export function scrollBackState() {
  return historyState;
}

export function setHistoryState(state) {
  historyState = state;
  historyStatus.dataset.state = state;
  historyStatus.textContent = state === "loading" ? "Loading earlier messages…"
    : state === "done" ? `Beginning of ${LABEL}`
    : "";
}

// ---------------------------------------------------------------------
// Order and grouping
// ---------------------------------------------------------------------

function isRoomMessage(node) {
  return node !== null && node.classList.contains("message") && node.dataset.id !== undefined;
}

function isOutgoing(node) {
  return node !== null && node.classList.contains("message--outbox");
}

/** The first post still in the outbox: everything else goes before it. */
function firstOutgoing() {
  return log.querySelector(":scope > .message--outbox");
}

/**
 * Hides author and time on a message that directly follows one by the same
 * author within a few minutes. Only room messages group; a system line or a
 * private message in between starts a new group.
 */
function applyGrouping(item) {
  if (!item || !isRoomMessage(item)) return;
  const prev = item.previousElementSibling;
  const continues = prev !== null
    && isRoomMessage(prev)
    && prev.dataset.user === item.dataset.user
    && Math.abs(Number(item.dataset.ts) - Number(prev.dataset.ts)) <= GROUP_WINDOW_MS;
  item.classList.toggle("message--cont", continues);
}

/** Inserts a new room message in id order (in practice: almost always at the end). */
export function insertRoomMessage(item, id) {
  let before = null;
  for (let node = log.lastElementChild; node; node = node.previousElementSibling) {
    if (isOutgoing(node)) before = node;
    if (!isRoomMessage(node)) continue;
    if (Number(node.dataset.id) > id) before = node;
    else break;
  }
  log.insertBefore(item, before); // before === null appends
  applyGrouping(item);
  applyGrouping(item.nextElementSibling);
}

/** Puts older messages (from scroll-back) at the top, oldest first. */
export function prependMessages(items) {
  const oldFirst = historyStatus.nextElementSibling;
  const fragment = document.createDocumentFragment();
  fragment.append(...items);
  historyStatus.after(fragment);
  for (const item of items) applyGrouping(item);
  applyGrouping(oldFirst);
}

export function removeMessage(id) {
  const item = messagesById.get(id);
  if (!item) return;
  messagesById.delete(id);
  forget(item);
  const next = item.nextElementSibling;
  const hadFocus = item.contains(document.activeElement);
  item.remove();
  applyGrouping(next);
  // Don't strand keyboard focus on a removed element.
  if (hadFocus) log.focus({ preventScroll: true });
}

export function oldestLoadedId() {
  for (let node = historyStatus.nextElementSibling; node; node = node.nextElementSibling) {
    if (isRoomMessage(node)) return Number(node.dataset.id);
  }
  return null;
}

/** The id of the newest room message in the log, or null. */
export function newestLoadedId() {
  for (let node = log.lastElementChild; node && node !== historyStatus; node = node.previousElementSibling) {
    if (isRoomMessage(node)) return Number(node.dataset.id);
  }
  return null;
}

/** Drops the oldest entries beyond MAX_LOG_ITEMS (only called while pinned to the bottom). */
function trimLog() {
  let trimmedMessages = false;
  while (log.childElementCount > MAX_LOG_ITEMS + 1) { // + 1: the history status line
    const first = historyStatus.nextElementSibling;
    if (isRoomMessage(first)) {
      messagesById.delete(Number(first.dataset.id));
      trimmedMessages = true;
    }
    first.remove();
  }
  // What was trimmed can be loaded again by scrolling up.
  if (trimmedMessages && historyState === "done") setHistoryState("idle");
  applyGrouping(historyStatus.nextElementSibling);
}

/** Puts a system line or private message at the end, before the outbox. */
export function appendEntry(item) {
  log.insertBefore(item, firstOutgoing());
}

/** A post joins the outbox, at the very end; the view follows it. */
export function addOutgoing(item) {
  addToLog(() => log.append(item), { force: true });
}

/** A post leaves the outbox (sent, or given back to the composer). */
export function removeOutgoing(item) {
  keepPinned(() => item.remove());
}

/** Empties the log for a fresh join; the server is about to replay the latest messages. Posts in the outbox stay. */
export function emptyLog() {
  log.replaceChildren(historyStatus, ...log.querySelectorAll(":scope > .message--outbox"));
  messagesById.clear();
  setHistoryState("idle");
  newMessagesButton.hidden = true;
}

// ---------------------------------------------------------------------
// Scrolling: stick to the bottom only if the reader is already there
// ---------------------------------------------------------------------

function isNearBottom() {
  return log.scrollHeight - log.scrollTop - log.clientHeight <= NEAR_BOTTOM_PX;
}

export function scrollToBottom(smooth) {
  log.scrollTo({ top: log.scrollHeight, behavior: smooth ? "smooth" : "auto" });
  newMessagesButton.hidden = true;
}

/** The reader scrolled: once they reach the bottom, "New messages" has done its job. */
export function noteScrolled() {
  if (!newMessagesButton.hidden && isNearBottom()) newMessagesButton.hidden = true;
}

/** Runs `mutate` (which changes the log) and keeps the view pinned to the bottom if it was there. */
export function keepPinned(mutate) {
  const stick = isNearBottom();
  mutate();
  if (stick) scrollToBottom(false);
}

/**
 * Runs `mutate` (which adds to the end of the log), then keeps the view
 * pinned to the bottom if it was there (or `force`), otherwise offers the
 * "New messages" button (if `notify`).
 */
export function addToLog(mutate, { force = false, notify = true } = {}) {
  const stick = force || isNearBottom();
  mutate();
  if (stick) {
    trimLog(); // only here: trimming while someone reads old messages would pull them away
    scrollToBottom(false);
  } else if (notify) {
    newMessagesButton.hidden = false;
  }
}

export function appendSystem(text) {
  addToLog(() => appendEntry(renderSystem(text)), { notify: false });
}

/** The first entry (not the status line, not one of `leaving`) at least partly in view. */
function firstVisibleEntry(leaving) {
  const top = log.getBoundingClientRect().top;
  for (let node = historyStatus.nextElementSibling; node; node = node.nextElementSibling) {
    if (leaving && leaving.has(node)) continue;
    if (node.getBoundingClientRect().bottom > top) return node;
  }
  return null;
}

/**
 * Runs `mutate` (which adds or removes entries above the view, or changes
 * their height) so that the entry the reader is looking at stays where it
 * is on screen; `leaving` are entries `mutate` removes, never the anchor.
 * Measured on an element rather than by scrollHeight, so it is right
 * whether or not the browser's own scroll anchoring already moved things.
 * On a message it is the bubble that must stay put: the message itself may
 * lose its author line when older messages by the same author arrive above it.
 */
export function keepAnchored(mutate, leaving) {
  const entry = firstVisibleEntry(leaving);
  const anchor = entry && (entry.querySelector(".message-bubble") || entry);
  const before = anchor ? anchor.getBoundingClientRect().top : 0;
  mutate();
  if (anchor && anchor.isConnected) log.scrollTop += anchor.getBoundingClientRect().top - before;
}

/** Runs `mutate` (which changes messages anywhere in the log) without moving the reader's view. */
export function keepView(mutate, leaving) {
  if (isNearBottom()) keepPinned(mutate);
  else keepAnchored(mutate, leaving);
}
