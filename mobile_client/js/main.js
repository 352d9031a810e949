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
  outbox.flush();
  startLive();
  startBanner();
  // Warm every operation document into the service worker's cache for offline use.
  const idle = window.requestIdleCallback || ((fn) => setTimeout(fn, 1500));
  idle(() => Object.keys(OPERATIONS).forEach((key) => operation(key)));
}

async function showLogin() {
  document.getElementById("logout").hidden = true;
  document.getElementById("tabs").hidden = true;
  const banner = document.getElementById("banner");
  banner.hidden = true;
  banner.replaceChildren();
  stopLive();
  const { show } = await import("./screens/login.js");
  await show(document.getElementById("view"));
}

async function boot() {
  setServiceWorkerReady(registerServiceWorker());
  outbox.onChange(renderSync);
  renderSync(await outbox.status());
  document.getElementById("logout").addEventListener("click", () => logout());
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
