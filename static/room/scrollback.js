// Scroll-back: older messages, a page at a time, when the reader reaches the
// top of the log (or the log does not even fill the screen yet). Its state
// ("idle", "loading", "done") is the status line log.js keeps first in the
// log; its requests take their turn in history.js's one slot.

import { requestHistory } from "./history.js";
import {
  findMessage, keepAnchored, oldestLoadedId, prependMessages, registerMessage, scrollBackState,
  setHistoryState,
} from "./log.js";
import { log } from "./page.js";
import { renderMessage } from "./render.js";
import { isJoining } from "./sync.js";
import { messageId } from "./values.js";

/** Messages per scroll-back request. */
const HISTORY_PAGE = 50;
/** Ask for older messages once the reader is this close to the top, in pixels. */
const HISTORY_TRIGGER_PX = 40;

/**
 * Message `id` and what to do once it (or the beginning of the room) is
 * loaded: unread.js reaches back for the first unread message this way.
 */
let reaching = null;
/** Most pages loaded to reach the first unread message. */
const REACH_PAGES = 20;

/** Loads older pages until message `id` is on screen (at most REACH_PAGES), then calls `then`. */
export function reachBack(id, then) {
  const oldest = oldestLoadedId();
  if (oldest === null || oldest <= id || scrollBackState() === "done") {
    then();
    return;
  }
  reaching = { id, then, pages: REACH_PAGES };
  requestOlder();
}

/** Whether a reach is under way and wants the next page. */
function stillReaching() {
  if (reaching === null) return false;
  const oldest = oldestLoadedId();
  if (oldest === null || oldest <= reaching.id || scrollBackState() === "done" || reaching.pages <= 0) {
    const { then } = reaching;
    reaching = null;
    then();
    return false;
  }
  return true;
}

/** Asks for the page of messages before the oldest one shown; true if it did. */
function requestOlder() {
  if (scrollBackState() !== "idle" || isJoining()) return false;
  const before = oldestLoadedId();
  if (before === null) return false;
  const sent = requestHistory({ before, limit: HISTORY_PAGE }, receiveHistory, () => {
    if (scrollBackState() === "loading") setHistoryState("idle");
    reaching = null;
  });
  if (sent && reaching !== null) reaching.pages -= 1;
  if (sent) setHistoryState("loading");
  return sent;
}

/** Loads more if the reader is at the top (or the log does not even fill the screen yet); true if it asked. */
export function maybeLoadOlder() {
  return (stillReaching() || log.scrollTop <= HISTORY_TRIGGER_PX) && requestOlder();
}

function receiveHistory(frame) {
  const entries = Array.isArray(frame.messages) ? frame.messages : [];
  const fresh = [];
  for (const msg of entries) {
    const id = msg && typeof msg === "object" ? messageId(msg.id) : null;
    if (id === null || findMessage(id) !== undefined) continue;
    const item = renderMessage({ ...msg, id });
    registerMessage(id, item);
    fresh.push([id, item]);
  }
  fresh.sort((a, b) => a[0] - b[0]);

  // A page that brought nothing new would only be asked for again: stop there.
  const done = fresh.length === 0 || frame.has_more !== true;
  keepAnchored(() => {
    prependMessages(fresh.map(([, item]) => item));
    setHistoryState(done ? "done" : "idle");
  });
  // If the reader is still at the top (or a reach goes on), the next turn
  // in history.js asks for the next page.
  if (reaching !== null) stillReaching();
}
