// `history` requests, one at a time.
//
// An answer does not say which request it answers, and a server may refuse
// a second request while one is out. So whoever sends a request owns the
// next answer, and the others wait for their turn. The turns are wired in
// main.js, in order of priority: catching up on missed messages first
// (sync.js), then scroll-back (scrollback.js; the reader is waiting), then
// reconciling what is on screen (sync.js).

import { showNotice } from "./notice.js";
import { currentSocket, send } from "./socket.js";

/**
 * A `history` request unanswered this long means the socket is stuck; a
 * new one resumes without losing anything. (Giving up on the request and
 * sending another could hand the late answer to the wrong request.)
 */
const HISTORY_STUCK_MS = 20000;

/** The one `history` request out, if any: see `requestHistory`. */
let historyRequest = null;
/** Who waits for the slot, in order of priority: each sends its request and returns true, or returns false. */
let turns = [];

/** Sets who waits for the slot (see `turns`); main.js calls it once. */
export function takeTurns(...waiting) {
  turns = waiting;
}

/**
 * Sends `{"type":"history", ...query}` unless a request is already out;
 * `onAnswer(frame)` gets its answer, `onLost()` (if given) runs if the
 * socket closes first. False if nothing was sent.
 */
export function requestHistory(query, onAnswer, onLost) {
  if (historyRequest !== null || !send({ type: "history", ...query })) return false;
  const ws = currentSocket();
  const stuck = setTimeout(() => {
    if (currentSocket() !== ws || historyRequest === null) return;
    showNotice("Earlier messages did not load; reconnecting to try again.");
    ws.close(4000, "history request unanswered");
  }, HISTORY_STUCK_MS);
  historyRequest = { onAnswer, onLost, stuck };
  return true;
}

/** A `history` frame: the answer to the request out. */
export function receiveHistoryAnswer(frame) {
  const request = historyRequest;
  if (request === null) return; // nothing asked on this socket: not ours
  historyRequest = null;
  clearTimeout(request.stuck);
  request.onAnswer(frame);
  nextHistoryRequest();
}

/** The socket closed: the request out will never be answered. */
export function dropHistoryRequest() {
  const request = historyRequest;
  historyRequest = null;
  if (request === null) return;
  clearTimeout(request.stuck);
  request.onLost?.();
}

/** Whoever waits for the history slot gets it, in order of priority. */
export function nextHistoryRequest() {
  if (historyRequest !== null) return;
  for (const turn of turns) {
    if (turn()) return;
  }
}
