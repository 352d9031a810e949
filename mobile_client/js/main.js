// Boot: service worker, session, tabs by role, router, sync badge, live notifications.

import { operation, setServiceWorkerReady } from "./api.js";
import { logout, onSessionChange, session } from "./auth.js";
import { startBanner } from "./banner.js";
import { startLive, stopLive } from "./live.js";
import * as outbox from "./outbox.js";
import { OPERATIONS } from "./operations.js";
import { setHome, start as startRouter, route } from "./router.js";
import { h, render } from "./ui.js";

const TABS = {
  rep: [["day", "My day", "◎"], ["accounts", "Accounts", "☰"], ["inbox", "Inbox", "✉"], ["settings", "Settings", "⚙"]],
  manager: [["manager", "Territories", "▦"], ["accounts", "Accounts", "☰"], ["inbox", "Inbox", "✉"], ["settings", "Settings", "⚙"]],
};

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return Promise.resolve();
  navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(() => undefined);
  if (navigator.serviceWorker.controller) return Promise.resolve();
  // First visit: wait (briefly) until the worker controls the page, so optional documents are
  // probed through it.
  return new Promise((resolve) => {
    navigator.serviceWorker.addEventListener("controllerchange", () => resolve(), { once: true });
    setTimeout(resolve, 4000);
  });
}

/** A clicked push notification: the service worker names the screen to show. */
function listenToServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data?.type !== "open" || !event.data.url) return;
    const url = new URL(event.data.url, location.href);
    if (url.origin !== location.origin) return;
    if (url.pathname === location.pathname) location.hash = url.hash;
    else location.assign(url.href);
  });
  navigator.serviceWorker.startMessages();
}

async function logOut() {
  // The next person on this phone must not get this user's push notifications.
  try {
    await (await import("./push.js")).forgetPush();
  } finally {
    await logout();
  }
}

function renderSync(s) {
  const badge = document.getElementById("sync-badge");
  let state = "synced";
  let text = "Synced";
  if (s.waiting) {
    state = "pending";
    text = `${s.waiting} waiting to sync`;
  }
  if (!s.online) {
    state = "offline";
    text = s.waiting ? `Offline · ${s.waiting} waiting to sync` : "Offline";
  }
  if (s.failed) text += ` · ${s.failed} failed`;
  badge.dataset.state = state;
  badge.textContent = text;
  badge.title = s.blocked ? `Waiting: ${s.blocked}` : text;
  // What the server refused stays in front of the rep until retried or discarded.
  const review = document.getElementById("sync-review");
  review.hidden = !(s.failed || s.retrying);
  review.textContent = s.failed ? "Review" : "Details";
}

function renderTabs(role) {
  const tabs = document.getElementById("tabs");
  const list = role === "rep" ? TABS.rep : TABS.manager;
  setHome(list[0][0]);
  render(tabs, list.map(([screen, label, icon]) => h("a", { href: `#/${screen}`, dataset: { screen } },
    h("span", { class: "icon", "aria-hidden": "true" }, icon), label)));
  tabs.hidden = false;
}

async function showApp(s) {
  document.getElementById("logout").hidden = false;
  renderTabs(s.role);
  await startRouter();
  // Syncing, live notices and the banner start once the first screen had its chance to paint
  // (on a slow phone they would otherwise compete with it); the documents for offline use last.
  const idle = (fn, timeout) => (window.requestIdleCallback ? requestIdleCallback(fn, { timeout }) : setTimeout(fn, timeout));
  idle(() => {
    if (!session()) return; // logged out meanwhile
    outbox.flush();
    startLive();
    startBanner();
  }, 1000);
  idle(() => Object.keys(OPERATIONS).forEach((key) => operation(key)), 3000);
}

async function showLogin() {
  document.getElementById("logout").hidden = true;
  document.getElementById("tabs").hidden = true;
  const banner = document.getElementById("banner");
  banner.hidden = true;
  banner.replaceChildren();
  stopLive();
  delete document.getElementById("view").dataset.snapshot;
  const { show } = await import("./screens/login.js");
  await show(document.getElementById("view"));
}

async function boot() {
  setServiceWorkerReady(registerServiceWorker());
  listenToServiceWorker();
  outbox.onChange(renderSync);
  outbox.status().then(renderSync); // IndexedDB: not on the way to the first screen
  document.getElementById("logout").addEventListener("click", () => logOut());
  onSessionChange((s) => {
    if (s) {
      history.replaceState(null, "", "#/");
      showApp(s);
    } else {
      showLogin();
    }
  });
  const s = session();
  if (s) await showApp(s);
  else await showLogin();
}

boot();
export { route };
