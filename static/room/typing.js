// Who is typing: telling the room while we type in the composer, and showing
// who else is (#typing-indicator), each of them forgotten a few seconds
// after their last word on it.

import { ME, typingIndicator, typingText } from "./page.js";
import { send } from "./socket.js";

/** Protocol: while typing, say so at most every 2 s… */
const TYPING_REFRESH_MS = 2000;
/** …and say "stopped" after this long without a keystroke. */
const TYPING_IDLE_MS = 3000;
/** Someone else's "typing" lapses this long after their last refresh. */
const TYPING_EXPIRE_MS = 5000;

/** When we last told the room we are typing; 0 = we have not (or said we stopped). */
let typingSentAt = 0;
let typingIdleTimer = 0;
/** Who else is typing: user → the timer that forgets them. */
const typingUsers = new Map();

// ---------------------------------------------------------------------
// Ours
// ---------------------------------------------------------------------

/** A /pm is not room talk: don't tell the room we are typing it. */
function isPrivateCommand(text) {
  return /^\/pm(\s|$)/.test(text);
}

/** Called on every edit of the composer, with its text. */
export function noteTyping(text) {
  if (text.trim() === "" || isPrivateCommand(text)) {
    stopTyping();
    return;
  }
  clearTimeout(typingIdleTimer);
  typingIdleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  const now = Date.now();
  if (now - typingSentAt >= TYPING_REFRESH_MS && send({ type: "typing", typing: true })) typingSentAt = now;
}

export function stopTyping() {
  clearTimeout(typingIdleTimer);
  if (typingSentAt === 0) return; // we never said we were typing
  typingSentAt = 0;
  send({ type: "typing", typing: false });
}

/** The socket closed: the room forgets we were typing, so do we. */
export function forgetOurTyping() {
  typingSentAt = 0;
  clearTimeout(typingIdleTimer);
}

// ---------------------------------------------------------------------
// Everyone else's
// ---------------------------------------------------------------------

/** Someone else started or stopped typing; a start lapses by itself. */
export function setTyping(user, isTyping) {
  if (!user || user === ME) return;
  const known = typingUsers.has(user);
  clearTimeout(typingUsers.get(user));
  if (isTyping) {
    typingUsers.set(user, setTimeout(() => setTyping(user, false), TYPING_EXPIRE_MS));
  } else {
    typingUsers.delete(user);
  }
  if (known !== isTyping) renderTyping();
}

/** A fresh view: nobody is known to be typing. */
export function clearTyping() {
  for (const timer of typingUsers.values()) clearTimeout(timer);
  typingUsers.clear();
  renderTyping();
}

function typingLabel(names) {
  switch (names.length) {
    case 0: return "";
    case 1: return `${names[0]} is typing…`;
    case 2: return `${names[0]} and ${names[1]} are typing…`;
    default: return "several people are typing…";
  }
}

export function renderTyping() {
  const names = [...typingUsers.keys()];
  typingText.textContent = typingLabel(names);
  typingIndicator.classList.toggle("is-active", names.length > 0);
}
