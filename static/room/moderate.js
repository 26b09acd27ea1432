// Moderation and reports on the room page (issue 14). A message of
// someone else has a "More actions" button (render.js) that opens a small
// menu here: "Report…" for everyone, and for the room's moderators, its
// owner and staff (data-role on #room) "Delete message…", "Kick…",
// "Mute…" and "Ban…". For them, each name in the online list has the same
// menu without the message items (presence.js draws the button).
//
// The menu (#mod-menu) and the two dialogs (#report-dialog,
// #sanction-dialog) are in templates/chat/room.html, labelled there; this
// file fills them in, opens them and sends what they say with fetch to
// /chat/<room>/report/ or /chat/<room>/moderate/ (src/http/moderate.rs)
// with the page's CSRF token. The server's sentence is the outcome: a
// notice on success, the dialog's error line otherwise. What an action
// does to the people in the room (a kick, a mute) reaches every page as
// frames, like anything else.
//
// Keyboard: the menu's items are buttons in Tab order (arrow keys, Home
// and End move too); Escape closes the menu or the dialog and focus goes
// back to the button that opened it. A dialog is modal and keeps Tab
// inside it.

import { button } from "./dom.js";
import { showNotice } from "./notice.js";
import { CSRF, log, MODERATES, modMenu, narrowScreen, ROOM_PATH } from "./page.js";
import { messageText } from "./render.js";

const reportDialog = document.getElementById("report-dialog");
const sanctionDialog = document.getElementById("sanction-dialog");

/** The button that opened the menu (focus goes back to it), or null while closed. */
let menuOpener = null;
/** What the open dialog acts on: { kind, user, messageId, opener }. */
let target = null;

// ---------------------------------------------------------------------
// Talking to the server
// ---------------------------------------------------------------------

const UNREACHABLE = "Could not reach the server. Check your connection and try again.";

/**
 * POSTs `fields` to /chat/<room>/<endpoint>/ as a form, asking for JSON;
 * resolves to { ok, message } with the server's sentence either way.
 */
async function post(endpoint, fields) {
  let response;
  try {
    response = await fetch(`/chat/${ROOM_PATH}/${endpoint}/`, {
      method: "POST",
      headers: { Accept: "application/json", "X-CSRF-Token": CSRF },
      body: new URLSearchParams(fields),
      credentials: "same-origin",
    });
  } catch {
    return { ok: false, message: UNREACHABLE };
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's error page): said below by its status.
  }
  if (response.ok && body && body.ok === true && typeof body.message === "string") {
    return { ok: true, message: body.message };
  }
  const error = body && body.error;
  if (error && typeof error.message === "string" && error.message) {
    return { ok: false, message: error.message };
  }
  return { ok: false, message: `The server could not do that (${response.status}). Try again later.` };
}

// ---------------------------------------------------------------------
// The menu
// ---------------------------------------------------------------------

/**
 * The items for a message by `user` (message !== null) or for `user` in
 * the online list: [kind, text]. The menu's name says whose they are.
 */
function menuItems(user, message) {
  const items = [];
  if (message) items.push(["report", "Report…"]);
  if (MODERATES) {
    if (message) items.push(["delete", "Delete message…"]);
    items.push(["kick", "Kick…"], ["mute", "Mute…"], ["ban", "Ban…"]);
  }
  return items;
}

/** Opens the menu for `user` (and `message`, a .message element, if any) under `opener`; closes it if `opener` had it open. */
function toggleMenu(opener, user, message) {
  const wasOpen = menuOpener === opener;
  closeMenu(false);
  if (wasOpen || !user) return;
  const items = menuItems(user, message).map(([kind, text]) => {
    const item = button("mod-menu-item", text);
    item.dataset.kind = kind;
    return item;
  });
  if (items.length === 0) return;
  modMenu.replaceChildren(...items);
  modMenu.setAttribute("aria-label", message ? `Actions for ${user}'s message` : `Actions for ${user}`);
  modMenu.dataset.user = user;
  modMenu.dataset.messageId = message ? message.dataset.id : "";
  modMenu.hidden = false;
  menuOpener = opener;
  opener.setAttribute("aria-expanded", "true");
  if (message) message.classList.add("has-menu");
  placeMenu(opener);
  items[0].focus({ preventScroll: true });
}

/** Under the opener, or above it if there is more room there; a bottom sheet on phones (style.css). */
function placeMenu(opener) {
  modMenu.classList.remove("is-above");
  modMenu.style.left = "";
  modMenu.style.top = "";
  if (narrowScreen.matches) return;
  const at = opener.getBoundingClientRect();
  const height = modMenu.offsetHeight;
  const width = modMenu.offsetWidth;
  const below = window.innerHeight - at.bottom;
  const top = below < height + 8 && at.top > below ? at.top - height - 4 : at.bottom + 4;
  const left = Math.max(8, Math.min(at.right - width, window.innerWidth - width - 8));
  // CSSOM writes are allowed under the CSP (only style="" attributes are not).
  modMenu.style.top = `${Math.max(8, top)}px`;
  modMenu.style.left = `${left}px`;
}

/** Closes the menu; with `refocus`, focus goes back to its opener. */
function closeMenu(refocus) {
  if (menuOpener === null) return;
  const opener = menuOpener;
  menuOpener = null;
  modMenu.hidden = true;
  modMenu.replaceChildren();
  opener.setAttribute("aria-expanded", "false");
  const message = opener.closest(".message");
  if (message) message.classList.remove("has-menu");
  if (refocus && opener.isConnected) opener.focus({ preventScroll: true });
}

/** A message's "More actions" button (wired through actions.js). */
export function toggleMessageMenu(item, opener) {
  toggleMenu(opener, item.dataset.user, item);
}

/** Clicks in the online list: a name's "More" button opens its menu. */
export function onUserListClick(event) {
  const opener = event.target.closest(".user-more");
  if (opener) toggleMenu(opener, opener.dataset.modUser, null);
}

function onMenuClick(event) {
  const item = event.target.closest(".mod-menu-item");
  if (!item) return;
  const opener = menuOpener;
  const user = modMenu.dataset.user;
  const id = Number(modMenu.dataset.messageId) || null;
  closeMenu(false);
  openDialog(item.dataset.kind, user, id, opener);
}

function onMenuKeydown(event) {
  const items = [...modMenu.querySelectorAll(".mod-menu-item")];
  const at = items.indexOf(document.activeElement);
  let to = null;
  switch (event.key) {
    case "Escape":
      event.preventDefault();
      event.stopPropagation();
      closeMenu(true);
      return;
    case "ArrowDown": to = (at + 1) % items.length; break;
    case "ArrowUp": to = (at - 1 + items.length) % items.length; break;
    case "Home": to = 0; break;
    case "End": to = items.length - 1; break;
    default: return;
  }
  event.preventDefault();
  items[to].focus();
}

/** Focus leaving the menu for anything but its opener closes it (Tab past the last item, say). */
function onMenuFocusout(event) {
  const to = event.relatedTarget;
  if (to !== null && !modMenu.contains(to) && to !== menuOpener) closeMenu(false);
}

/** A click anywhere but in the menu or on an opener closes it. */
function onDocumentClick(event) {
  if (menuOpener === null) return;
  if (modMenu.contains(event.target) || event.target.closest(".action-more, .user-more")) return;
  closeMenu(false);
}

// ---------------------------------------------------------------------
// The dialogs
// ---------------------------------------------------------------------

/** What each kind of dialog says and sends. */
const SANCTIONS = {
  delete: {
    title: (user) => `Delete ${user}'s message`,
    explain: () => "It is removed for everyone in the room. The reason goes to the audit log.",
    submit: () => "Delete message",
    reasonLabel: "Reason (for the audit log)",
    duration: false,
  },
  kick: {
    title: (user) => `Kick ${user}`,
    explain: (user) => `${user}'s pages in this room close; they may come back.`,
    submit: (user) => `Kick ${user}`,
    reasonLabel: "Reason (they are shown it)",
    duration: false,
  },
  mute: {
    title: (user) => `Mute ${user}`,
    explain: (user) => `${user} can still read the room, but not post, edit, react or type.`,
    submit: (user) => `Mute ${user}`,
    reasonLabel: "Reason (they are shown it)",
    duration: true,
  },
  ban: {
    title: (user) => `Ban ${user}`,
    explain: (user) => `${user}'s pages in this room close and they cannot open it again until the ban ends.`,
    submit: (user) => `Ban ${user}`,
    reasonLabel: "Reason (they are shown it)",
    duration: true,
  },
};

function parts(dialog) {
  return {
    form: dialog.querySelector("form"),
    error: dialog.querySelector(".mod-dialog-error"),
    submit: dialog.querySelector(".mod-dialog-submit"),
    reason: dialog.querySelector("textarea"),
  };
}

function openDialog(kind, user, messageId, opener) {
  target = { kind, user, messageId, opener };
  const dialog = kind === "report" ? reportDialog : sanctionDialog;
  const { error, submit, reason, form } = parts(dialog);
  form.reset();
  error.hidden = true;
  error.textContent = "";
  submit.disabled = false;
  if (kind === "report") {
    const item = messageId === null ? null : log.querySelector(`.message[data-id="${messageId}"]`);
    dialog.querySelector(".mod-dialog-title").textContent = `Report ${user}'s message`;
    const quote = dialog.querySelector(".mod-dialog-quote");
    quote.textContent = item ? messageText(item) : "";
    quote.hidden = !item;
  } else {
    const words = SANCTIONS[kind];
    dialog.querySelector(".mod-dialog-title").textContent = words.title(user);
    dialog.querySelector(".mod-dialog-explain").textContent = words.explain(user);
    dialog.querySelector(`label[for="${reason.id}"]`).textContent = words.reasonLabel;
    dialog.querySelector("#sanction-duration-field").hidden = !words.duration;
    submit.textContent = words.submit(user);
  }
  dialog.showModal();
  // The first field: the duration where there is one, else the reason.
  const duration = form.elements.minutes;
  (kind !== "report" && SANCTIONS[kind].duration ? duration : reason).focus();
}

/** Closes `dialog` and puts focus back where the action started. */
function finish(dialog) {
  if (dialog.open) dialog.close();
}

function onDialogClose() {
  const opener = target && target.opener;
  target = null;
  if (opener && opener.isConnected) opener.focus({ preventScroll: true });
}

async function onDialogSubmit(event, dialog) {
  event.preventDefault();
  if (!target) return;
  const { error, submit, reason, form } = parts(dialog);
  const { kind, user, messageId } = target;
  const fields = { reason: reason.value };
  let endpoint = "moderate";
  if (kind === "report") {
    if (reason.value.trim() === "") {
      showError(error, "Say what is wrong with the message, so the moderators know what to look for.");
      reason.focus();
      return;
    }
    endpoint = "report";
    fields.message_id = String(messageId);
  } else if (kind === "delete") {
    fields.action = "delete_message";
    fields.message_id = String(messageId);
  } else {
    fields.action = kind;
    fields.user = user;
    if (SANCTIONS[kind].duration) fields.minutes = form.elements.minutes.value;
  }
  submit.disabled = true;
  const answer = await post(endpoint, fields);
  submit.disabled = false;
  if (!answer.ok) {
    showError(error, answer.message);
    return;
  }
  finish(dialog);
  showNotice(answer.message, true);
}

function showError(line, text) {
  line.textContent = text;
  line.hidden = false;
}

/** Tab and Shift+Tab go round the dialog's controls, never out of it. */
function trapTab(event, dialog) {
  if (event.key !== "Tab") return;
  const controls = [...dialog.querySelectorAll("select, textarea, button, input")]
    .filter((c) => !c.disabled && c.offsetParent !== null);
  if (controls.length === 0) return;
  const first = controls[0];
  const last = controls[controls.length - 1];
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
}

/** Wires the menu and the dialogs; the page has them unless it is a direct conversation. */
export function setUpModeration() {
  if (!modMenu) return;
  modMenu.addEventListener("click", onMenuClick);
  modMenu.addEventListener("keydown", onMenuKeydown);
  modMenu.addEventListener("focusout", onMenuFocusout);
  document.addEventListener("click", onDocumentClick);
  window.addEventListener("resize", () => closeMenu(false));
  for (const dialog of [reportDialog, sanctionDialog]) {
    if (!dialog) continue;
    dialog.querySelector("form").addEventListener("submit", (event) => onDialogSubmit(event, dialog));
    dialog.querySelector(".mod-dialog-cancel").addEventListener("click", () => finish(dialog));
    dialog.addEventListener("keydown", (event) => trapTab(event, dialog));
    // An error is about what was sent; typing again clears it.
    dialog.addEventListener("input", () => {
      parts(dialog).error.hidden = true;
    });
    // Escape closes a modal dialog by itself (its `cancel`); either way focus goes back.
    dialog.addEventListener("close", onDialogClose);
    // A click on the backdrop (outside the dialog's box) closes it too.
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) {
        const box = dialog.getBoundingClientRect();
        const inside = event.clientX >= box.left && event.clientX <= box.right
          && event.clientY >= box.top && event.clientY <= box.bottom;
        if (!inside) finish(dialog);
      }
    });
  }
}
