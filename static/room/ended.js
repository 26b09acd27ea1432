// The server closed the room's socket for good (docs/protocol.md, "Close
// codes"): the session ended (a logout in another tab, a password change
// elsewhere, an administrator's logout-all), the account was deactivated,
// the user may no longer be in the room, a moderator removed or banned
// them, or the room was deleted or renamed. Reconnecting would only be
// refused, so the page says what happened and offers the way on, in the
// #room-ended banner, instead: log in again, rejoin (after a kick), the
// rooms; a renamed room's page moves to its new name.

import { endedBanner, ROOM_PATH } from "./page.js";

/** A room name as the server spells them (and nothing that could be more than that). */
const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** What a close's reason says after its word ("kicked: calm down" → "calm down"). */
function after(prefix, reason) {
  return reason.startsWith(`${prefix}: `) ? reason.slice(prefix.length + 2) : "";
}

/** `sentence`, then ": reason" if there is one, ending in a full stop. */
function withReason(sentence, reason) {
  return reason ? `${sentence}: ${reason}` : `${sentence}.`;
}

/**
 * Shows why the room stopped (the close's `code` and `reason`), and the
 * way on; a renamed room's page goes to its new name instead.
 */
export function showEnded(code, reason) {
  if (code === 4005) {
    const to = after("moved", reason);
    if (ROOM_NAME.test(to)) {
      location.assign(`/chat/${encodeURIComponent(to)}/`);
      return;
    }
  }
  if (!endedBanner) return;
  const text = endedBanner.querySelector(".room-ended-text");
  const link = endedBanner.querySelector(".room-ended-link");
  const here = `/chat/${ROOM_PATH}/`;
  let message = reason ? `Disconnected: ${reason}.` : "Disconnected by the server.";
  let href = "/chat/";
  let label = "All rooms";
  if (code === 1008 && reason === "signed out") {
    message = "You were signed out: you logged out in another tab or device, or your session ended.";
    href = `/accounts/login/?next=${encodeURIComponent(here)}`;
    label = "Log in";
  } else if (code === 1008 && reason === "account deactivated") {
    message = "Your account was deactivated: you can no longer take part.";
  } else if (code === 4000) {
    message = withReason("You were removed from this room by a moderator", after("kicked", reason));
    href = here;
    label = "Rejoin";
  } else if (code === 4003) {
    message = withReason("You are banned from this room", after("banned", reason));
  } else if (code === 4004) {
    message = "This room was deleted.";
  } else if (code === 4005) {
    message = "This room was renamed.";
  }
  text.textContent = message;
  link.href = href;
  link.textContent = label;
  endedBanner.hidden = false;
}
