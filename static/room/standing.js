// What the room's rules and my standing in it allow (docs/protocol.md,
// "Moderation"): the banner above the composer (#composer-banner), the
// composer closed when I cannot post (muted; a locked or archived room
// unless I moderate it), and slow mode's countdown on the send button
// ("Wait 12 s") after each post of mine, or when the server says
// `slow_mode`. The server checks all of it again at every post: this only
// spares the reader a refusal, and tells them why.
//
// The `room_state` and `standing` frames come in the join burst and
// whenever they change; a timed mute also lifts here by itself at its end.

import { composerBanner, composerBannerText, input, sendButton } from "./page.js";
import { str } from "./values.js";

/** How often the countdown on the send button is redrawn. */
const TICK_MS = 250;

/** The room's rules, as the last `room_state` said them. */
let rules = { locked: false, archived: false, slowModeSecs: 0, inviteOnly: false };
/** My standing, as the last `standing` said it (until then: a member, free to post). */
let standing = { role: "member", muted: null };
/** Until when slow mode keeps me from posting (ms since the epoch; 0: it does not). */
let slowUntil = 0;
/** The server closed the room for good: nothing is sent any more. */
let ended = false;
let tickTimer = 0;
let muteTimer = 0;

const MODERATORS = new Set(["moderator", "owner", "staff"]);

/** Whether I moderate the room (moderators are exempt from locks and slow mode). */
function moderates() {
  return MODERATORS.has(standing.role);
}

/** The mute on me now, or null (a timed one that has run out is none). */
function activeMute() {
  const mute = standing.muted;
  if (!mute) return null;
  if (mute.until !== null && mute.until <= Date.now()) return null;
  return mute;
}

/** "14:05" in the reader's own clock (a mute's end; the server says it in UTC). */
function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** Why I cannot post here now, as a sentence; null if I can. */
export function whyClosed() {
  if (standing.role === "staff") return null;
  const mute = activeMute();
  if (mute) {
    const until = mute.until === null ? "until a moderator lifts it" : `until ${clock(mute.until)}`;
    return mute.reason ? `You are muted ${until}: ${mute.reason}` : `You are muted ${until}.`;
  }
  if (rules.archived && !moderates()) return "This room is archived: you can read it, not post in it.";
  if (rules.locked && !moderates()) return "This room is locked: only moderators can post.";
  return null;
}

/** Why I cannot post, in a few words that fit a phone's message box (the banner says the rest). */
function shortWhy() {
  if (activeMute()) return "You are muted";
  if (rules.archived) return "This room is archived";
  return "This room is locked";
}

/** What the banner says when the composer is open: the room's state, if it is unusual. */
function openNote() {
  if (rules.archived) return "This room is archived; as a moderator you can still post.";
  if (rules.locked) return "This room is locked; as a moderator you can still post.";
  if (rules.slowModeSecs > 0 && !moderates()) {
    return `Slow mode: one message every ${rules.slowModeSecs} s.`;
  }
  return "";
}

/** Seconds of slow mode left (0: none). */
function slowSecondsLeft() {
  return Math.max(0, Math.ceil((slowUntil - Date.now()) / 1000));
}

/**
 * Why a post cannot go out now, as a sentence for the composer's notice;
 * null if it can. The composer asks before sending.
 */
export function refusePost() {
  const closed = whyClosed();
  if (closed) return closed;
  const left = slowSecondsLeft();
  if (left > 0) return `Slow mode: you can post again in ${left} s.`;
  return null;
}

/** I just posted: slow mode starts counting (unless I moderate the room). */
export function notePosted() {
  if (rules.slowModeSecs > 0 && !moderates()) {
    slowUntil = Math.max(slowUntil, Date.now() + rules.slowModeSecs * 1000);
    render();
  }
}

/** The server refused a post for slow mode: wait what it says. */
export function slowModeRefused(retryAfterMs) {
  const wait = Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? retryAfterMs : rules.slowModeSecs * 1000;
  slowUntil = Math.max(slowUntil, Date.now() + wait);
  render();
}

/**
 * The server refused a post, an edit or a reaction for a rule (`muted`,
 * `room_locked`, `room_archived`): what it says is now known here too,
 * should a frame about it still be on its way.
 */
export function ruleRefused(code, frame) {
  if (code === "muted") {
    const until = typeof frame.until === "string" ? Date.parse(frame.until) : NaN;
    standing = { ...standing, muted: { reason: str(frame.reason), until: Number.isFinite(until) ? until : null } };
  } else if (code === "room_locked") {
    rules = { ...rules, locked: true };
  } else if (code === "room_archived") {
    rules = { ...rules, archived: true };
  }
  render();
}

/** A `room_state` frame. */
export function onRoomState(frame) {
  const secs = Number(frame.slow_mode_secs);
  rules = {
    locked: frame.locked === true,
    archived: frame.archived === true,
    slowModeSecs: Number.isSafeInteger(secs) && secs > 0 ? secs : 0,
    inviteOnly: frame.invite_only === true,
  };
  if (rules.slowModeSecs === 0) slowUntil = 0;
  render();
}

/** A `standing` frame. */
export function onStanding(frame) {
  const role = str(frame.role);
  let muted = null;
  if (frame.muted && typeof frame.muted === "object") {
    const until = typeof frame.muted.until === "string" ? Date.parse(frame.muted.until) : NaN;
    muted = { reason: str(frame.muted.reason), until: Number.isFinite(until) ? until : null };
  }
  standing = { role: MODERATORS.has(role) ? role : "member", muted };
  const wait = Number(frame.slow_mode_wait_ms);
  if (moderates()) slowUntil = 0;
  else if (Number.isFinite(wait) && wait > 0) slowUntil = Math.max(slowUntil, Date.now() + wait);
  render();
}

/** The room ended for good (a close the page does not come back from): nothing can be sent. */
export function setEnded(isEnded) {
  ended = isEnded;
  render();
}

/** Brings the banner, the message box and the send button in line with what is known. */
export function render() {
  clearTimeout(muteTimer);
  clearTimeout(tickTimer);
  const closed = whyClosed();
  const text = closed || openNote();
  if (composerBannerText.textContent !== text) composerBannerText.textContent = text;
  composerBanner.hidden = text === "";
  composerBanner.classList.toggle("is-closed", closed !== null);

  // A closed composer says why in its own placeholder too (and, through
  // its aria-describedby, in the banner), and takes no input.
  if (closed !== null) {
    if (input.dataset.openPlaceholder === undefined) input.dataset.openPlaceholder = input.placeholder;
    input.placeholder = shortWhy();
  } else if (input.dataset.openPlaceholder !== undefined) {
    input.placeholder = input.dataset.openPlaceholder;
    delete input.dataset.openPlaceholder;
  }
  input.disabled = closed !== null || ended;
  input.closest("form")?.classList.toggle("is-closed", closed !== null);

  const left = closed ? 0 : slowSecondsLeft();
  if (left > 0) {
    sendButton.textContent = `Wait ${left} s`;
    sendButton.setAttribute("aria-label", `Send: slow mode, wait ${left} seconds`);
    tickTimer = setTimeout(render, TICK_MS);
  } else {
    sendButton.textContent = "Send";
    sendButton.removeAttribute("aria-label");
  }
  sendButton.disabled = ended || closed !== null || left > 0;

  // A timed mute lifts by itself.
  const mute = activeMute();
  if (mute && mute.until !== null) {
    muteTimer = setTimeout(render, Math.min(mute.until - Date.now() + 50, 2 ** 31 - 1));
  }
}
