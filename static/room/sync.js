// Keeping the log in step with the room across sockets: the join replay each
// socket starts with, and after a reconnect, catching up and reconciling.
//
// A reconnect resumes: the socket URL carries `?after=<highest id seen>`,
// the server replays everything newer (paged with `history` + `after` when
// more than its burst was missed), and nothing is lost or doubled. The
// server does not replay edits, deletions and reactions of messages we
// already had, so the page then re-reads the messages it shows (`history` +
// `before`, newest first) and brings them up to date (docs/protocol.md,
// "Reconnecting without losing anything"). Both take turns in history.js's
// one request slot.

import { nextHistoryRequest, requestHistory } from "./history.js";
import { findMessage, keepView, messageIds, removeMessage, setHistoryState } from "./log.js";
import { refreshMessage } from "./render.js";
import { messageId } from "./values.js";

/** The server replays this many messages on join; fewer means there are no older ones. */
const JOIN_HISTORY = 10;
/** Messages per catch-up or reconcile request (the protocol's maximum). */
const HISTORY_PAGE_MAX = 100;
/** After a reconnect, re-read at most this many of the newest messages on screen… */
const RECONCILE_MAX_MESSAGES = 300;
/** …in at most this many requests (deleted messages make pages reach further back). */
const RECONCILE_MAX_PAGES = 5;

/** Set when a socket opens without resuming: its first frame starts a fresh view. */
let resetOnNextFrame = false;
/** Highest room message id received; a reconnect resumes after it. */
let highestId = 0;
/** The current socket catches up after `highestId` instead of starting fresh. */
let resuming = false;
/** `highestId` when the current socket opened: what was on screen before it. */
let resumedAfter = 0;
/** The current socket's `resumed` frame has come. */
let resumedSeen = false;
/** The resume burst was capped: more missed messages to fetch with `history` + `after`. */
let catchUpWanted = false;
/** After a reconnect: the re-reading of the messages on screen, while it lasts (`reconcileStep`). */
let reconcile = null;
/** From a socket's open until its join replay ends (the user_list frame). */
let joining = false;
/** History messages received in the current join replay. */
let joinHistoryCount = 0;

/** Adds a room message as if it came in a `chat_message` frame (frames.js, wired in main.js). */
let addMessage = () => {};

/** Sets how missed messages are added; main.js calls it once. */
export function wire(hooks) {
  addMessage = hooks.addMessage;
}

/** Where a new socket resumes from: the highest message id seen (0: nothing yet). */
export function resumeAfter() {
  return highestId;
}

/** True from a socket's open until its join replay ends. */
export function isJoining() {
  return joining;
}

/** A socket opened: with messages on screen it resumes after them (the URL asked for it), else starts afresh. */
export function opened() {
  resuming = highestId > 0;
  resumedAfter = highestId;
  resumedSeen = false;
  resetOnNextFrame = !resuming;
  joining = true;
}

/**
 * True once for the first frame of a socket that did not resume: the server
 * replays the latest messages now, so the old view goes (frames.js).
 */
export function takeFreshStart() {
  if (!resetOnNextFrame) return false;
  resetOnNextFrame = false;
  joinHistoryCount = 0;
  return true;
}

/** Room message `id` arrived (`history`: as part of a replay). */
export function received(id, history) {
  highestId = Math.max(highestId, id);
  if (history && joining) joinHistoryCount += 1;
}

/** A live `message_edited` frame for `id`: newer than any answer to a re-read request out. */
export function editedLive(id) {
  if (reconcile !== null) reconcile.editedLive.add(id);
}

/** A live `reaction` frame for `id`: newer than any answer to a re-read request out. */
export function reactedLive(id) {
  if (reconcile !== null) reconcile.reactedLive.add(id);
}

/** The socket is gone: catching up and re-reading start again with the next one. */
export function forget() {
  catchUpWanted = false;
  reconcile = null;
}

/** The `resumed` frame: the catch-up burst is over. */
export function resumed(frame) {
  // If it was capped, fetch the rest; then re-read what was already on
  // screen, for what changed while away.
  resumedSeen = true;
  catchUpWanted = frame.has_more === true;
  reconcile = planReconcile();
  nextHistoryRequest();
}

/** The join replay is over (user_list): a short replay means the room has nothing older. */
export function finishJoin() {
  joining = false;
  if (resuming) {
    resuming = false; // the scroll-back state of the kept view still holds
    if (!resumedSeen) {
      // The server could not load what we missed (an error frame said so):
      // ask for it page by page instead, then re-read the rest.
      catchUpWanted = true;
      reconcile = planReconcile();
    }
    nextHistoryRequest(); // also: the reader may have scrolled up while we were away
    return;
  }
  setHistoryState(joinHistoryCount < JOIN_HISTORY ? "done" : "idle");
  // After a fresh join nothing else waits for the slot: this is scroll-back's
  // turn, for a log that does not fill the screen.
  nextHistoryRequest();
}

// ---------------------------------------------------------------------
// Catching up
// ---------------------------------------------------------------------

/** history.js's first turn: the next page of missed messages, if more are wanted. */
export function catchUpTurn() {
  if (!catchUpWanted) return false;
  requestMissed();
  return true;
}

/** Asks for the next page of messages missed while disconnected. */
function requestMissed() {
  const after = highestId;
  requestHistory({ after, limit: HISTORY_PAGE_MAX }, (frame) => receiveMissed(frame, after));
}

/** A page of missed messages: add them like live ones; more to fetch if it says so. */
function receiveMissed(frame, after) {
  const entries = Array.isArray(frame.messages) ? frame.messages : [];
  for (const msg of entries) {
    if (msg && typeof msg === "object") addMessage({ ...msg, history: true });
  }
  // Go on only while pages bring newer messages, so it can never loop.
  catchUpWanted = frame.has_more === true && highestId > after;
}

// ---------------------------------------------------------------------
// Reconciling
// ---------------------------------------------------------------------

/** history.js's last turn: the next page of the re-reading, while it lasts. */
export function reconcileTurn() {
  if (reconcile === null) return false;
  reconcileStep();
  return true;
}

/**
 * Plans the re-reading of the messages that were on screen before this
 * socket opened (at most the newest RECONCILE_MAX_MESSAGES): edits,
 * deletions and reactions made while we were away are not replayed.
 */
function planReconcile() {
  const ids = messageIds().filter((id) => id <= resumedAfter).sort((a, b) => b - a);
  if (ids.length === 0) return null;
  return {
    before: ids[0] + 1, // the next request asks for messages older than this
    floor: ids[Math.min(ids.length, RECONCILE_MAX_MESSAGES) - 1], // done once a page reaches it
    pages: 0,
    // While a request is out: the messages it may judge, and those whose
    // text or reactions a live frame has set since (newer than the answer, maybe).
    asked: new Set(),
    editedLive: new Set(),
    reactedLive: new Set(),
  };
}

/** Asks for the next (older) page of the range being reconciled. */
function reconcileStep() {
  const run = reconcile;
  const asked = messageIds().filter((id) => id < run.before);
  if (asked.length === 0) {
    reconcile = null;
    return;
  }
  const sent = requestHistory(
    { before: run.before, limit: HISTORY_PAGE_MAX },
    (frame) => { if (reconcile === run) receiveReconcile(frame); },
  );
  if (!sent) return; // nextHistoryRequest tries again when the slot is free
  run.asked = new Set(asked);
  run.editedLive.clear();
  run.reactedLive.clear();
}

/**
 * An answer for the range being reconciled. It holds every message older
 * than `before` that still exists, down to its oldest (or all of them if it
 * says `has_more: false`): the messages that were on screen when it was
 * asked for and are missing from it were deleted, and the others get their
 * current text, edit mark and reactions.
 */
function receiveReconcile(frame) {
  const run = reconcile;
  const answer = new Map();
  for (const msg of Array.isArray(frame.messages) ? frame.messages : []) {
    const id = msg && typeof msg === "object" ? messageId(msg.id) : null;
    if (id !== null && id < run.before) answer.set(id, msg);
  }
  const complete = frame.has_more !== true;
  if (!complete && answer.size === 0) {
    reconcile = null; // "more" but nothing in it: nothing can be judged
    return;
  }
  const oldest = complete ? -Infinity : Math.min(...answer.keys());

  const deleted = [];
  const changed = [];
  for (const id of run.asked) {
    const item = findMessage(id);
    if (item === undefined || id < oldest) continue;
    const msg = answer.get(id);
    if (msg === undefined) deleted.push(id);
    else changed.push([item, msg, id]);
  }
  keepView(() => {
    for (const [item, msg, id] of changed) {
      refreshMessage(item, msg, { text: !run.editedLive.has(id), reactions: !run.reactedLive.has(id) });
    }
    for (const id of deleted) removeMessage(id);
  }, new Set(deleted.map((id) => findMessage(id))));

  run.pages += 1;
  if (complete || oldest <= run.floor || run.pages >= RECONCILE_MAX_PAGES) reconcile = null;
  else run.before = oldest;
}
