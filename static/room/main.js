// confab — the room page: one WebSocket, a message log with scroll-back,
// edit/delete/reactions on messages, who is typing, the online list and the
// composer. The wire format is docs/protocol.md. templates/chat/room.html
// loads this file as an ES module (no build step); it imports the rest.
//
// How it fits together (each module owns its state; others read it through
// the functions it exports, or get callbacks wired here):
//   page.js        the page's settings (data-* on #room) and fixed elements
//   socket.js      the WebSocket, reconnecting with backoff, the status line
//   frames.js      every server frame goes to one function, by its `type`
//   log.js         the message log: room messages in id order, by id; scrolling
//   render.js      building and updating message elements
//   actions.js     what the buttons in messages do (one delegated listener)
//   popups.js      the reaction picker and the delete confirmation
//   history.js     `history` requests, never more than one out: catching up,
//                  scroll-back and reconciling take turns
//   scrollback.js  older messages when the reader reaches the top
//   jump.js        jumping to a message (reply quotes, ?around=ID links): the
//                  page around it, then back down to the live end
//   markdown.js    message formatting, built as DOM nodes
//   sync.js        the join replay; after a reconnect, catching up on what
//                  was missed and re-reading what is on screen
//   composer.js    the message box; notice.js its error line
//   standing.js    what the room's rules and my standing allow: the banner
//                  above the composer, the composer closed while muted or
//                  locked out, slow mode's countdown
//   mentions.js    the composer's @ autocomplete
//   notify.js      browser notifications when someone mentions me
//   outbox.js      posts until the server has them: shown as "sending…",
//                  sent again (same client_id) after a reconnect or a refusal
//   ended.js       what the page says when the server closes it for good
//   moderate.js    the "More actions" menus of messages and names: reports,
//                  and kick/mute/ban/delete for moderators, with dialogs
//   unread.js      the sidebar's frames, the "New" divider, `read` as
//                  messages are seen, "Mark as unread" (../sidebar.js
//                  draws the sidebar)
//   typing.js      who is typing; presence.js who is online
//   dom.js         building elements (user text only through textContent)
//   values.js      reading untrusted values from frames and attributes
//
// This file only wires: the hooks between modules, then every DOM event to
// the function that handles it, then the first render and the connection.

import {
  clearPending, onLogClick, onLogHover, onLogInput, onLogKeydown, onPageClick, reactorsAnswered,
} from "./actions.js";
import {
  applyPlaceholder, autosize, cancelReply, forgetPrivate, onInput, onKeydown, onSubmit, setSendable,
  startPrivateMessage, updateCounter,
} from "./composer.js";
import { showEnded } from "./ended.js";
import { addRoomMessage, onFrame } from "./frames.js";
import { dropHistoryRequest, takeTurns } from "./history.js";
import * as jump from "./jump.js";
import { noteScrolled, scrollToBottom, setHistoryState } from "./log.js";
import { onMentionKeydown, setUpMentions, suggest } from "./mentions.js";
import { onUserListClick, setUpModeration } from "./moderate.js";
import { hideNotice, holdNotice, releaseNotice } from "./notice.js";
import * as outbox from "./outbox.js";
import {
  connRetry, form, input, jumpLatestButton, log, narrowScreen, newMessagesButton, notice, noticeClose,
  replyBannerClose, root, userList,
} from "./page.js";
import { markStale } from "./presence.js";
import { maybeLoadOlder } from "./scrollback.js";
import * as socket from "./socket.js";
import * as sync from "./sync.js";
import { forgetOurTyping, renderTyping } from "./typing.js";
import { messageId } from "./values.js";
import { startReadTracking } from "./unread.js";

if (root) start();

/** The socket is gone: the history request out and the catching up it served will not finish. */
function socketGone() {
  sync.forget();
  dropHistoryRequest();
}

function start() {
  // Between modules.
  takeTurns(sync.catchUpTurn, jump.jumpTurn, maybeLoadOlder, jump.newerTurn, sync.reconcileTurn);
  sync.wire({ addMessage: addRoomMessage });
  jump.wire({ addMessage: addRoomMessage });
  socket.wire({
    resumeAfter: sync.resumeAfter,
    opened() {
      sync.opened();
      outbox.flush();
    },
    message: onFrame,
    lost() {
      forgetPrivate();
      outbox.disconnected();
      forgetOurTyping();
      clearPending();
      reactorsAnswered();
      socketGone();
    },
    left: socketGone,
    ended(code, reason) {
      setSendable(false);
      outbox.halt();
      showEnded(code, reason);
    },
    statusChanged(isOnline) {
      if (!isOnline) markStale();
    },
  });

  // The composer. The @ list's keys come first: Enter takes a name there.
  setUpMentions();
  input.addEventListener("keydown", onMentionKeydown);
  form.addEventListener("submit", onSubmit);
  input.addEventListener("keydown", onKeydown);
  input.addEventListener("input", onInput);
  input.addEventListener("input", suggest);
  input.addEventListener("click", suggest);
  input.addEventListener("keyup", (event) => {
    if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) suggest();
  });

  // Private-message shortcuts in the online list; everything clickable in
  // the log goes through actions.js.
  userList.addEventListener("click", (event) => {
    const target = event.target.closest("[data-pm-to]");
    if (target) startPrivateMessage(target.dataset.pmTo);
  });
  userList.addEventListener("click", onUserListClick);
  setUpModeration();
  log.addEventListener("click", onLogClick);
  log.addEventListener("keydown", onLogKeydown);
  log.addEventListener("input", onLogInput);
  log.addEventListener("pointerover", onLogHover);
  log.addEventListener("focusin", onLogHover);
  document.addEventListener("click", onPageClick);

  log.addEventListener("scroll", () => {
    noteScrolled();
    maybeLoadOlder();
    jump.maybeLoadNewer();
  }, { passive: true });
  newMessagesButton.addEventListener("click", () => scrollToBottom(true));
  jumpLatestButton.addEventListener("click", jump.jumpToLatest);
  replyBannerClose.addEventListener("click", () => {
    cancelReply();
    input.focus();
  });

  noticeClose.addEventListener("click", hideNotice);
  // Don't fade a notice away while someone is reading or focusing it.
  notice.addEventListener("mouseenter", holdNotice);
  notice.addEventListener("mouseleave", releaseNotice);
  notice.addEventListener("focusin", holdNotice);

  connRetry.addEventListener("click", socket.reconnectNow);
  window.addEventListener("online", socket.reconnectNow);
  window.addEventListener("offline", socket.wentOffline);

  // Close cleanly when the page goes away (keeps it eligible for the
  // back/forward cache) and reconnect if it is restored from there.
  window.addEventListener("pagehide", socket.closeForGood);
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) socket.restore();
  });

  narrowScreen.addEventListener("change", applyPlaceholder);
  applyPlaceholder();

  setHistoryState("idle");
  // Opened at a message (`?around=ID`: a search result, a mention): the
  // page around it replaces the join replay once the socket is in.
  const around = messageId(Number(new URLSearchParams(location.search).get("around")));
  if (around !== null) jump.jumpTo(around);
  // What this tab had not sent before a reload, shown (and sent) again.
  outbox.restore();
  setSendable(true);
  renderTyping();
  autosize();
  updateCounter();
  startReadTracking();
  socket.connect();
}
