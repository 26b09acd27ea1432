// Who is online (#user-list, #online-count): the set the server's
// user_list, user_join and user_leave frames describe. Clicking a name
// starts a private message (wired in main.js); for moderators each other
// name has a "More" button whose menu is moderate.js's.

import { button, el } from "./dom.js";
import { ME, MODERATES, modMenu, onlineCount, onlinePanel, userList } from "./page.js";

/** Who is online right now. */
const online = new Set();

/** Who is online now, as a new array (the @ autocomplete offers them first). */
export function onlineNames() {
  return [...online];
}

/** The full list (user_list): replaces what we knew, and is current again. */
export function setOnline(users) {
  online.clear();
  for (const name of Array.isArray(users) ? users : []) {
    if (typeof name === "string") online.add(name);
  }
  onlinePanel.classList.remove("is-stale");
  renderUserList();
}

/** `user` joined; true if they were not here already (not a second tab, not us back). */
export function arrived(user) {
  const isNew = !online.has(user);
  online.add(user);
  renderUserList();
  return isNew;
}

/** `user` left; true if they had been here. */
export function departed(user) {
  const wasHere = online.delete(user);
  renderUserList();
  return wasHere;
}

/** Disconnected: the list shows who was online, dimmed until the next user_list. */
export function markStale() {
  onlinePanel.classList.add("is-stale");
}

function renderUserList() {
  const names = [...online].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: "base" }));
  const items = names.map((name) => {
    const li = el("li", "user");
    if (name === ME) {
      li.classList.add("user--me");
      li.append(el("span", "user-name", name), " ", el("span", "muted", "(you)"));
    } else {
      // Clicking someone starts a private message to them.
      const b = button("user-name user-pm", name);
      b.dataset.pmTo = name;
      b.title = `Send ${name} a private message`;
      li.append(b);
      if (MODERATES && modMenu) {
        const more = button("user-more", "⋯", `Moderate ${name}`);
        more.dataset.modUser = name;
        more.setAttribute("aria-expanded", "false");
        more.setAttribute("aria-controls", "mod-menu");
        li.append(more);
      }
    }
    return li;
  });
  userList.replaceChildren(...items);
  onlineCount.textContent = String(names.length);
}
