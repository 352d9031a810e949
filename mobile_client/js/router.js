// Hash router: #/day, #/accounts, #/account/12, #/inbox, #/manager, #/settings, #/sync.
// Each screen is its own ES module, imported on first use, exporting
// `show(view, params) -> optional cleanup()`.

import { errorBlock, h, render } from "./ui.js";

const SCREENS = {
  day: () => import("./screens/day.js"),
  accounts: () => import("./screens/accounts.js"),
  account: () => import("./screens/account.js"),
  inbox: () => import("./screens/inbox.js"),
  manager: () => import("./screens/manager.js"),
  settings: () => import("./screens/settings.js"),
  sync: () => import("./screens/sync.js"),
};

let cleanup = null;
let home = "accounts";

export function setHome(name) {
  home = name;
}

export function parse(hash = location.hash) {
  const [name, ...rest] = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  return { name: SCREENS[name] ? name : home, params: rest.map(decodeURIComponent) };
}

let navigation = 0;

export async function route() {
  const mine = ++navigation;
  const view = document.getElementById("view");
  const { name, params } = parse();
  if (cleanup) {
    try { cleanup(); } catch { /* a screen failing to clean up must not block the next */ }
    cleanup = null;
  }
  document.querySelectorAll("#tabs a").forEach((a) => {
    if (a.dataset.screen === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  view.dataset.screen = name;
  // A snapshot painted by index.html (data-snapshot names its screen) belongs to that screen only.
  if (view.dataset.snapshot !== name) delete view.dataset.snapshot;
  try {
    const mod = await SCREENS[name]();
    if (mine !== navigation) return;
    cleanup = (await mod.show(view, params)) || null;
  } catch (err) {
    render(view, h("h2", {}, "Something went wrong"), errorBlock(err));
  }
}

let listening = false;
export function start() {
  if (!listening) {
    listening = true;
    window.addEventListener("hashchange", () => {
      route();
      document.getElementById("view").focus({ preventScroll: true });
    });
  }
  return route();
}
