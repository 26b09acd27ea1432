// confab — the room selector (/chat/).
//
// Without JS the "Join or create a room" form GETs /chat/?room_name=… and the
// server redirects. With JS we skip that round trip and go straight to the
// room's URL (or, for "@name", the conversation's).
"use strict";

(() => {
  const form = document.getElementById("room-form");
  const input = document.getElementById("room-name-input");
  if (!form || !input) return;

  form.addEventListener("submit", (event) => {
    const name = input.value.trim();
    // The browser has already checked `pattern`/`required` before "submit"
    // fires; this only guards against a stray space around a valid name.
    if (!name) return;
    event.preventDefault();
    const path = name.startsWith("@")
      ? `@${encodeURIComponent(name.slice(1))}`
      : encodeURIComponent(name);
    window.location.assign(`/chat/${path}/`);
  });
})();
