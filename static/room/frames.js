// Every frame the server sends (docs/protocol.md) goes to one function in
// `handlers`, by its `type`; each hands the news to the modules that own
// what it changes. Unknown types are ignored so the server can add new
// ones first.

import { clearPending, forgetAll, reactorsAnswered } from "./actions.js";
import { giveBack, giveBackPrivate, privateDelivered, replyGone } from "./composer.js";
import { receiveHistoryAnswer } from "./history.js";
import * as jump from "./jump.js";
import {
  addToLog, appendEntry, appendSystem, emptyLog, findMessage, insertRoomMessage, keepPinned,
  registerMessage, removeMessage,
} from "./log.js";
import { showNotice } from "./notice.js";
import { notifyActivity, notifyIfMentioned } from "./notify.js";
import * as outbox from "./outbox.js";
import { log, ME, ROOM } from "./page.js";
import { closePopups } from "./popups.js";
import { arrived, departed, setOnline } from "./presence.js";
import { onRoomState, onStanding, ruleRefused, slowModeRefused } from "./standing.js";
import {
  applyReaction, markEdited, quotedDeleted, quotedEdited, refreshMessage, renderMessage, renderPrivate,
  setMessageText, setReactors,
} from "./render.js";
import * as sync from "./sync.js";
import { clearTyping, setTyping } from "./typing.js";
import { arrivedHere, onActivity, onReadMarker, onUnread, postedHere } from "./unread.js";
import { messageId, str } from "./values.js";

/** Used only when an error frame comes without a human message. */
const ERROR_TEXT = {
  not_found: "That message no longer exists.",
  forbidden: "You can only change your own messages.",
  invalid_emoji: "A reaction must be a single emoji.",
};

/** Errors the page words itself, whatever the server's message says. */
const PAGE_TEXT = {
  rate_limited(frame, gaveBack) {
    const wait = Number.isFinite(frame.retry_after_ms) && frame.retry_after_ms > 0 ? frame.retry_after_ms : 1000;
    const seconds = Math.max(1, Math.ceil(wait / 1000));
    const kept = gaveBack ? " Your message is still in the box." : "";
    return `You're sending too fast — try again in ${seconds} s.${kept}`;
  },
  too_many_reactions() {
    return "This message has as many different reactions as it can take. Add yours to one that is already there.";
  },
  slow_mode(frame, gaveBack) {
    const wait = Number.isFinite(frame.retry_after_ms) && frame.retry_after_ms > 0 ? frame.retry_after_ms : 1000;
    const seconds = Math.max(1, Math.ceil(wait / 1000));
    const kept = gaveBack ? " Your message is still in the box." : "";
    return `Slow mode: you can post again in ${seconds} s.${kept}`;
  },
};

const handlers = {
  chat_message: addRoomMessage,

  history(frame) {
    receiveHistoryAnswer(frame);
  },

  resumed(frame) {
    sync.resumed(frame);
  },

  // A new message in another of my rooms (modern sockets, `?v=2`): the
  // sidebar counts it, and a mention of me may notify.
  activity(frame) {
    onActivity(frame);
    notifyActivity(frame);
  },

  message_edited(frame) {
    const id = messageId(frame.id);
    if (id === null) return;
    jump.heldEdited(id, frame);
    // Replies on screen quote the new text (docs/protocol.md, "Replies").
    keepPinned(() => quotedEdited(log, id, str(frame.message)));
    const item = findMessage(id);
    if (!item) return;
    sync.editedLive(id);
    keepPinned(() => {
      setMessageText(item, str(frame.message));
      markEdited(item, frame.edited_at);
      item.classList.remove("is-pending");
    });
  },

  message_deleted(frame) {
    const id = messageId(frame.id);
    if (id === null) return;
    jump.heldDeleted(id);
    replyGone(id);
    keepPinned(() => quotedDeleted(log, id));
    removeMessage(id);
  },

  reaction(frame) {
    const id = messageId(frame.id);
    const item = findMessage(id);
    if (!item) return;
    sync.reactedLive(id);
    keepPinned(() => applyReaction(item, frame));
  },

  reactors(frame) {
    reactorsAnswered();
    const item = findMessage(messageId(frame.id));
    if (item) setReactors(item, str(frame.emoji), frame.users);
  },

  typing(frame) {
    setTyping(str(frame.user), frame.typing === true);
  },

  user_list(frame) {
    setOnline(frame.users);
    // Protocol: user_list follows the join replay, so it also marks its end.
    if (sync.isJoining()) sync.finishJoin();
  },

  user_join(frame) {
    const user = str(frame.user);
    if (!user) return;
    // A second tab of someone already here, or ourselves after a reconnect: no line.
    if (arrived(user) && user !== ME) appendSystem(`${user} joined`);
  },

  user_leave(frame) {
    const user = str(frame.user);
    if (!user) return;
    setTyping(user, false);
    if (departed(user) && user !== ME) appendSystem(`${user} left`);
  },

  private_message(frame) {
    const item = renderPrivate({
      from: str(frame.user), to: ME, text: str(frame.message), outgoing: false, createdAt: frame.created_at,
    });
    addToLog(() => appendEntry(item));
  },

  private_message_delivered(frame) {
    privateDelivered(str(frame.client_id));
    const item = renderPrivate({
      from: ME, to: str(frame.target), text: str(frame.message), outgoing: true, createdAt: frame.created_at,
    });
    addToLog(() => appendEntry(item), { force: true });
  },

  // Only sent to a socket opened with `?v=2` (unread.js).
  unread: onUnread,
  read_marker: onReadMarker,

  // The room's rules and my standing in it (standing.js); `?v=2` only.
  room_state: onRoomState,
  standing: onStanding,

  error(frame) {
    const code = str(frame.code);
    // A rule refused it: the composer learns the rule (and slow mode's wait).
    if (code === "slow_mode") slowModeRefused(frame.retry_after_ms);
    else ruleRefused(code, frame);
    // An error that names a post of ours (by its client_id): the outbox
    // sends it again by itself if that can help, and says so in the log;
    // otherwise its text comes back to the composer, with the error.
    const clientId = str(frame.client_id);
    const refusal = clientId ? outbox.refused(clientId, code, frame.retry_after_ms) : null;
    if (refusal !== null && refusal.retrying) {
      clearPending();
      return;
    }
    let gaveBack = false;
    if (refusal !== null) {
      giveBack(refusal.text);
      gaveBack = true;
    } else if (clientId) {
      gaveBack = giveBackPrivate(clientId);
    }
    const worded = Object.hasOwn(PAGE_TEXT, code) ? PAGE_TEXT[code](frame, gaveBack) : "";
    showNotice(worded || str(frame.message) || ERROR_TEXT[code] || "Something went wrong.");
    // Errors don't say which frame they answer: un-dim everything waiting.
    // A history request out keeps its slot: its answer may still come, and
    // a second request must not go out before it (history.js, HISTORY_STUCK_MS).
    clearPending();
  },
};

/**
 * A room message, live or replayed (`history: true`); also each message of
 * a catch-up page (sync.js). Room messages on screen are `.message[data-id]`
 * elements, found by id in log.js, always in id order in the log.
 */
export function addRoomMessage(frame) {
  const id = messageId(frame.id);
  if (id === null) return;
  sync.received(id, frame.history);
  // Our post's echo, or the answer to sending it again: it is out of the outbox.
  if (typeof frame.client_id === "string") outbox.delivered(frame.client_id);
  const known = findMessage(id);
  if (known !== undefined) {
    // A resume starts a little before the last id seen: what comes again
    // comes in its current state.
    if (frame.history) keepPinned(() => refreshMessage(known, frame));
    return;
  }
  const user = str(frame.user);
  const mine = user === ME;
  if (mine && !frame.history) postedHere(id);
  // The server sends no `activity` for the room a socket is in: its live
  // messages count in the sidebar from here.
  if (!mine && !frame.history) arrivedHere(frame, id);
  if (!frame.history) {
    setTyping(user, false); // they sent what they were typing
    notifyIfMentioned(frame, ROOM);
  }
  // The log shows an older part of the room (jump.js): newer messages wait.
  if (jump.holdBack(id, { ...frame, id })) return;
  const item = renderMessage({ ...frame, id });
  registerMessage(id, item);
  addToLog(() => insertRoomMessage(item, id), { force: mine && !frame.history });
}

/** A message on the socket: parsed, checked, handed to its handler. */
export function onFrame(event) {
  let frame;
  try {
    frame = JSON.parse(event.data);
  } catch {
    return; // not JSON: not ours to handle
  }
  if (frame === null || typeof frame !== "object" || typeof frame.type !== "string") return;
  if (sync.takeFreshStart()) {
    // First frame of a new connection: the server replays the latest
    // messages now, so the old view (possibly with gaps, stale edits and
    // reactions) goes. Private messages are never replayed, as on a reload.
    resetView();
  }
  // hasOwn: a frame type like "constructor" must not reach Object.prototype.
  if (Object.hasOwn(handlers, frame.type)) handlers[frame.type](frame);
}

/** Empties the view for a fresh join; the server is about to replay the latest messages. */
function resetView() {
  closePopups();
  emptyLog();
  forgetAll();
  clearTyping();
  jump.freshStart();
}
