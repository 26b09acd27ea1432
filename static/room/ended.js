// The server closed the room's socket for good (close code 1008): the
// session ended (a logout in another tab, a password change elsewhere, an
// administrator's logout-all) or the user may no longer be in the room.
// Reconnecting would only be refused, so the page says what happened and
// offers the way on, in the #room-ended banner, instead.

import { endedBanner, ROOM_PATH } from "./page.js";

/** Shows why the room stopped, and a link to log in again or to the rooms. */
export function showEnded(signedOut, reason) {
  if (!endedBanner) return;
  const text = endedBanner.querySelector(".room-ended-text");
  const link = endedBanner.querySelector(".room-ended-link");
  if (signedOut) {
    text.textContent = "You were signed out: you logged out in another tab or device, or your session ended.";
    const back = `/chat/${ROOM_PATH}/`;
    link.href = `/accounts/login/?next=${encodeURIComponent(back)}`;
    link.textContent = "Log in";
  } else {
    text.textContent = reason ? `Disconnected: ${reason}.` : "Disconnected by the server.";
    link.href = "/chat/";
    link.textContent = "All rooms";
  }
  endedBanner.hidden = false;
}
