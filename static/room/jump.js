// Jumping to a message: a reply's quote, a search result, a mention or a
// link to `/chat/<room>/?around=ID` opens the log at that message,
// highlighted, even if it is far from the live end of the room.
//
// A message on screen is simply scrolled to. Any other is loaded with
// `{"type":"history","around":ID}` (docs/protocol.md, "Jumping to a
// message"), which replaces the log with the page around it. If that page
// does not reach the newest message, the log is *detached* from the live
// end: live messages newer than what it shows are held back here (not put
// in the log, where they would leave a gap), the "Jump to latest" button
// counts them, and scrolling down loads newer pages (`history` + `after`)
// until a page says there is nothing newer; then the held messages join
// the log and it is live again. "Jump to latest" (or sending a message)
// gets there at once, by loading the newest page instead.
//
// While a jump is out, every new message is held too, so none is lost when
// the answer replaces the log. Edits and deletions of held messages are
// applied to them here. The requests take their turn in history.js's one
// slot (main.js wires the turns).

import { forgetAll } from "./actions.js";
import { requestHistory, nextHistoryRequest } from "./history.js";
import {
  emptyLog, findMessage, insertRoomMessage, newestLoadedId, prependMessages, registerMessage, scrollToBottom,
  setHistoryState,
} from "./log.js";
import { showNotice } from "./notice.js";
import { jumpLatestButton, log, newMessagesButton } from "./page.js";
import { closePopups } from "./popups.js";
import { renderMessage } from "./render.js";
import { isJoining } from "./sync.js";
import { messageId } from "./values.js";

/** Messages per page around a message, and per page loaded while coming back down. */
const PAGE = 50;
/** Load newer messages once the reader is this close to the bottom, in pixels. */
const NEWER_TRIGGER_PX = 120;
/** How long a message jumped to stays highlighted. */
const HIGHLIGHT_MS = 6000;

/** What waits for the history slot: `{ around: id }` or `{ latest: true }`, or null. */
let wanted = null;
/** New messages are held back (a jump is out, or the log is detached). */
let holding = false;
/** The log does not reach the room's newest message. */
let detached = false;
/** A page of newer messages is being loaded (coming back down). */
let loadingNewer = false;
/** Held-back messages: id → their `chat_message` frame. */
const held = new Map();
/** The message highlighted after the last jump, and its timer. */
let highlighted = null;
let highlightTimer = 0;

/** Adds a room message as if it came in a `chat_message` frame (frames.js, wired in main.js). */
let addMessage = () => {};

/** Sets how held messages join the log; main.js calls it once. */
export function wire(hooks) {
  addMessage = hooks.addMessage;
}

/** Shows room message `id`: scrolled to and highlighted, loading the page around it if it is not on screen. */
export function jumpTo(id) {
  if (!Number.isSafeInteger(id) || id <= 0) return;
  const item = findMessage(id);
  if (item !== undefined) {
    reveal(item);
    return;
  }
  wanted = { around: id };
  holding = true;
  nextHistoryRequest();
}

/** Back to the live end of the room: at once if the log is there, else by loading the newest page. */
export function jumpToLatest() {
  if (!detached && wanted === null) {
    scrollToBottom(true);
    return;
  }
  wanted = { latest: true };
  holding = true;
  nextHistoryRequest();
}

/** Whether the log shows an older part of the room (or is about to). */
export function isAway() {
  return holding;
}

/**
 * A room message not on screen arrived (frames.js): true if it is held
 * back, because the log is being replaced or does not reach the live end.
 */
export function holdBack(id, frame) {
  if (!holding) return false;
  if (detached && wanted === null) {
    const newest = newestLoadedId();
    if (newest !== null && id < newest) return false; // inside what is shown: it goes in its place
  }
  held.set(id, frame);
  showJumpButton();
  return true;
}

/** A held message was edited (`message_edited`). */
export function heldEdited(id, frame) {
  const msg = held.get(id);
  if (msg) held.set(id, { ...msg, message: frame.message, edited_at: frame.edited_at });
}

/** A held message was deleted. */
export function heldDeleted(id) {
  if (held.delete(id)) showJumpButton();
}

/**
 * The view was emptied for a fresh join (frames.js): unless a jump waits
 * to be made, the join replay is the live end and nothing is held.
 */
export function freshStart() {
  detached = false;
  loadingNewer = false;
  held.clear();
  holding = wanted !== null;
  jumpLatestButton.hidden = true;
}

// ---------------------------------------------------------------------
// Turns in history.js's slot
// ---------------------------------------------------------------------

/** history.js's turn for a jump (around a message, or to the latest). */
export function jumpTurn() {
  if (wanted === null || isJoining()) return false;
  const request = wanted;
  const query = request.latest ? { limit: PAGE } : { around: request.around, limit: PAGE };
  const sent = requestHistory(query, (frame) => receiveJump(frame, request), () => {
    if (wanted === null) wanted = request; // the socket went: ask the next one
  });
  if (sent) wanted = null;
  return sent;
}

/** history.js's turn for coming back down: the next newer page, once the reader nears the bottom. */
export function newerTurn() {
  if (!detached || loadingNewer || wanted !== null || !nearBottom()) return false;
  const after = newestLoadedId();
  if (after === null) return false;
  const sent = requestHistory({ after, limit: PAGE }, (frame) => receiveNewer(frame, after), () => {
    loadingNewer = false;
  });
  loadingNewer = sent;
  return sent;
}

/** The reader scrolled: near the bottom of a detached log, newer messages are loaded. */
export function maybeLoadNewer() {
  if (detached && !loadingNewer && nearBottom()) nextHistoryRequest();
}

function nearBottom() {
  return log.scrollHeight - log.scrollTop - log.clientHeight <= NEWER_TRIGGER_PX;
}

// ---------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------

/** Reads the room messages of a `history` answer: [id, frame] pairs, oldest first. */
function messagesOf(frame) {
  const out = [];
  for (const msg of Array.isArray(frame.messages) ? frame.messages : []) {
    const id = msg && typeof msg === "object" ? messageId(msg.id) : null;
    if (id !== null) out.push([id, { ...msg, id }]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/** The page around a message (or the newest page) replaces the log. */
function receiveJump(frame, request) {
  if (wanted !== null) return; // another jump was asked for meanwhile: its answer will do
  const page = messagesOf(frame);
  closePopups();
  forgetAll();
  emptyLog();
  const items = page.map(([id, msg]) => {
    const item = renderMessage(msg);
    registerMessage(id, item);
    return item;
  });
  prependMessages(items);
  setHistoryState(frame.has_more === true ? "idle" : "done");
  detached = request.latest ? false : frame.has_newer === true;
  loadingNewer = false;
  if (!detached) goLive();
  else showJumpButton();

  if (request.latest) {
    scrollToBottom(false);
    return;
  }
  const item = findMessage(request.around);
  if (item !== undefined) {
    reveal(item);
  } else {
    // Deleted, or never in this room: show where it would be.
    showNotice("That message is no longer there (it was deleted); this is where it was.");
    const next = page.find(([id]) => id > request.around);
    if (next) findMessage(next[0]).scrollIntoView({ block: "center" });
    else scrollToBottom(false);
  }
}

/** A page of newer messages, coming back down: appended; the last one reattaches the log. */
function receiveNewer(frame, after) {
  loadingNewer = false;
  const fresh = messagesOf(frame).filter(([id]) => id > after && findMessage(id) === undefined);
  for (const [id, msg] of fresh) {
    held.delete(id);
    const item = renderMessage(msg);
    registerMessage(id, item);
    insertRoomMessage(item, id);
  }
  if (frame.has_more !== true || fresh.length === 0) {
    detached = false;
    goLive();
  } else {
    showJumpButton();
  }
}

/** The log reaches the live end again: held messages join it and live ones go straight in. */
function goLive() {
  holding = false;
  jumpLatestButton.hidden = true;
  const newest = newestLoadedId() ?? 0;
  const waiting = [...held.entries()].filter(([id]) => id > newest).sort((a, b) => a[0] - b[0]);
  held.clear();
  for (const [, frame] of waiting) addMessage({ ...frame, history: true });
  // A reload now opens the room at its live end, not at the old jump.
  const url = new URL(location.href);
  if (url.searchParams.has("around")) {
    url.searchParams.delete("around");
    history.replaceState(history.state, "", url);
  }
}

function showJumpButton() {
  if (!detached) return;
  newMessagesButton.hidden = true;
  // Only what came live is news: a replay (`history`) was there before.
  let count = 0;
  for (const frame of held.values()) if (frame.history !== true) count += 1;
  jumpLatestButton.textContent = count > 0
    ? `${count} new ${count === 1 ? "message" : "messages"} · Jump to latest ↓`
    : "Jump to latest ↓";
  jumpLatestButton.hidden = false;
}

/** Scrolls `item` into the middle of the view and highlights it for a while. */
function reveal(item) {
  if (highlighted) highlighted.classList.remove("is-target");
  clearTimeout(highlightTimer);
  highlighted = item;
  item.classList.add("is-target");
  item.scrollIntoView({ block: "center", behavior: "auto" });
  highlightTimer = setTimeout(() => {
    item.classList.remove("is-target");
    if (highlighted === item) highlighted = null;
  }, HIGHLIGHT_MS);
  // Scrolling there may have brought the reader near either end.
  nextHistoryRequest();
}
