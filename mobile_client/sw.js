/* fieldrep service worker: offline app shell, offline API answers, operation documents, Web Push.
 *
 * - App shell (/app/...): precached at install, served stale-while-revalidate.
 * - Operation documents (/operations/*.graphql): network first, cached copy when offline; a
 *   document the server does not publish answers 200 with an empty body and
 *   "X-Fieldrep-Missing: 1" so the page can probe for optional features quietly.
 * - GraphQL queries (POST /graphql with "X-Fieldrep-Cache: network"): network first, the answer
 *   stored per user, operation and variables (today's plan, accounts, inbox...), the stored
 *   answer when offline. Stored answers carry "X-Fieldrep-Cached-At"; the page also reads them
 *   straight from Cache Storage to paint before the network answers (js/api.js, same key).
 *   Mutations pass through; offline they get an OFFLINE error (the page queues check-ins in its
 *   IndexedDB outbox).
 * - Web Push: a "push" shows the notice (title and body from the server's payload, see
 *   notifications/push_payload.py); clicking it focuses the open app on the notice's screen,
 *   or opens the app there.
 */
// v3: index.html without inline script (CSP), the sync screen.
const VERSION = "fieldrep-v4";
const SHELL_CACHE = `${VERSION}-shell`;
const DOCS_CACHE = "fieldrep-operations";
const DATA_CACHE = "fieldrep-data";

const SHELL_FILES = [
  "./",
  "index.html",
  "manifest.webmanifest",
  "css/app.css",
  "icons/icon-192.png",
  "icons/icon-512.png",
  "js/main.js",
  "js/api.js",
  "js/auth.js",
  "js/banner.js",
  "js/charts.js",
  "js/geo.js",
  "js/idb.js",
  "js/live.js",
  "js/map.js",
  "js/operations.js",
  "js/outbox.js",
  "js/polyline.js",
  "js/push.js",
  "js/router.js",
  "js/settings.js",
  "js/snapshot.js",
  "js/outbox_view.js",
  "js/ui.js",
  "js/screens/account.js",
  "js/screens/accounts.js",
  "js/screens/day.js",
  "js/screens/inbox.js",
  "js/screens/login.js",
  "js/screens/manager.js",
  "js/screens/settings.js",
  "js/screens/sync.js",
  "vendor/leaflet/leaflet.js",
  "vendor/leaflet/leaflet.css",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((c) => c.addAll(SHELL_FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.endsWith("-shell") && name !== SHELL_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  if (event.data?.type === "clear-data") event.waitUntil(caches.delete(DATA_CACHE));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === "/graphql" && event.request.method === "POST") {
    event.respondWith(graphql(event.request));
  } else if (url.pathname.startsWith("/operations/") && event.request.method === "GET") {
    event.respondWith(operationDocument(event.request));
  } else if (url.pathname.startsWith("/app/") && event.request.method === "GET") {
    event.respondWith(shell(event.request, event));
  }
});

async function shell(request, event) {
  const cache = await caches.open(SHELL_CACHE);
  const cached = await cache.match(request, { ignoreSearch: true });
  const network = fetch(request).then((response) => {
    if (response.ok) cache.put(request, response.clone());
    return response;
  });
  if (cached) {
    event.waitUntil(network.catch(() => undefined));
    return cached;
  }
  try {
    return await network;
  } catch {
    const index = request.mode === "navigate" ? await cache.match("index.html") : undefined;
    return index || new Response("offline", { status: 503, headers: { "Content-Type": "text/plain" } });
  }
}

async function operationDocument(request) {
  const cache = await caches.open(DOCS_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) {
      await cache.put(request, response.clone());
      return response;
    }
    if (response.status === 404) {
      await cache.delete(request);
      return missingDocument();
    }
    return response;
  } catch {
    return (await cache.match(request)) || missingDocument();
  }
}

function missingDocument() {
  return new Response("", { status: 200, headers: { "Content-Type": "text/plain", "X-Fieldrep-Missing": "1" } });
}

function jsonResponse(body, headers = {}) {
  return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json", ...headers } });
}

function offline() {
  return jsonResponse(
    { errors: [{ message: "You are offline.", extensions: { code: "OFFLINE" } }] },
    { "X-Fieldrep-Offline": "1" },
  );
}

/** The user id inside the bearer token (not verified: it only partitions this device's cache). */
function subject(request) {
  const auth = request.headers.get("Authorization") || "";
  try {
    const payload = auth.split(" ")[1].split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).sub || "anon";
  } catch {
    return "anon";
  }
}

async function graphql(request) {
  if (!request.headers.get("X-Fieldrep-Cache")) {
    try {
      return await fetch(request);
    } catch {
      return offline();
    }
  }
  const body = await request.clone().json();
  // The key js/api.js's cachedAnswer() reads: keep both in step.
  const key = new Request(
    `/__fieldrep-data/${encodeURIComponent(subject(request))}/${encodeURIComponent(body.operationName || "")}` +
      `?v=${encodeURIComponent(JSON.stringify(body.variables || {}))}`,
  );
  const cache = await caches.open(DATA_CACHE);
  let response;
  try {
    response = await fetch(request);
  } catch {
    return (await cache.match(key)) || offline();
  }
  if (response.ok) {
    const text = await response.clone().text();
    try {
      const parsed = JSON.parse(text);
      if (parsed.data && !parsed.errors) {
        await cache.put(key, new Response(text, {
          headers: { "Content-Type": "application/json", "X-Fieldrep-Cached-At": new Date().toISOString() },
        }));
      }
    } catch {
      /* not JSON: do not cache */
    }
  }
  return response;
}

/** The app screen (hash route) a notice opens on. */
function screenFor(message) {
  const type = message.type || "";
  if (type.startsWith("day_plan.")) return "#/day";
  if (type.startsWith("account.")) return "#/accounts";
  return "#/inbox"; // territory changes: the inbox, with the acknowledge banner on top
}

self.addEventListener("push", (event) => {
  event.waitUntil(showPush(event.data));
});

async function showPush(data) {
  let message = {};
  try {
    message = data ? data.json() : {};
  } catch {
    message = { body: data.text() };
  }
  const url = new URL(`./${screenFor(message)}`, self.registration.scope).href;
  await self.registration.showNotification(message.title || "fieldrep", {
    body: message.body || "",
    // One notification per event: a push the service repeats replaces the first one.
    tag: message.event_id || undefined,
    icon: "icons/icon-192.png",
    badge: "icons/icon-192.png",
    timestamp: Date.parse(message.occurred_at) || Date.now(),
    data: { url, type: message.type || null, cursor: message.cursor ?? null },
  });
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const opening = openScreen(event.notification.data?.url);
  try {
    event.waitUntil(opening);
  } catch {
    /* an event made by script (not by a click) cannot extend its lifetime */
  }
});

/** Focus a window of the app and send it to `url`'s screen, or open the app there. */
async function openScreen(url) {
  const target = new URL(url || "./", self.registration.scope).href;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const app = windows.find((w) => w.url.startsWith(self.registration.scope));
  if (!app) {
    await self.clients.openWindow(target);
    return;
  }
  app.postMessage({ type: "open", url: target });
  try {
    await app.focus();
  } catch {
    /* focusing needs the user's click; the screen changed anyway */
  }
}
