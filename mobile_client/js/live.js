// Live notifications: a GraphQL subscription over WebSocket (graphql-transport-ws protocol)
// when the server publishes one, else polling the inbox. Every notification is dispatched as a
// "fieldrep:notification" window event (the inbox, the banner and the toasts listen).

import { operation, send } from "./api.js";
import { freshToken } from "./auth.js";
import { toast } from "./ui.js";

let socket = null;
let pollTimer = null;
let retry = 0;
let stopped = true;
let lastCursor = 0; // notices up to here are in the inbox already; live ones come after
const seen = new Set();

export function dispatch(notification) {
  if (!notification || seen.has(notification.id)) return;
  seen.add(notification.id);
  window.dispatchEvent(new CustomEvent("fieldrep:notification", { detail: notification }));
}

window.addEventListener("fieldrep:notification", (e) => {
  if (e.detail.live) toast(e.detail.title || "New notification");
});

function connect(op) {
  if (stopped || !navigator.onLine) return;
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;
  socket = new WebSocket(url, "graphql-transport-ws");
  const ws = socket;
  ws.onopen = async () => {
    const t = await freshToken(); // the server closes the socket when the token expires
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${t}` } }));
  };
  socket.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.type === "connection_ack") {
      retry = 0;
      socket.send(JSON.stringify({
        id: "inbox", type: "subscribe", payload: { query: op.text, operationName: op.name, variables: { after: lastCursor } },
      }));
    } else if (msg.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (msg.type === "next") {
      const data = msg.payload?.data || {};
      const item = Object.values(data)[0];
      if (item) {
        lastCursor = Math.max(lastCursor, item.cursor || 0);
        dispatch({ ...item, live: true });
      }
    }
  };
  socket.onclose = () => {
    socket = null;
    if (!stopped) setTimeout(() => connect(op), Math.min(30000, 1000 * 2 ** retry++));
  };
}

async function poll() {
  if (!navigator.onLine) return;
  try {
    const { data } = await send("inbox", {});
    const items = Object.values(data)[0] || [];
    (Array.isArray(items) ? items : items.edges?.map((e) => e.node) || []).forEach((n) => dispatch({ ...n, live: seen.size > 0 }));
  } catch {
    /* polling is best effort */
  }
}

export async function startLive() {
  stopped = false;
  try {
    const { data } = await send("inbox", {});
    lastCursor = Object.values(data)[0]?.endCursor || 0;
  } catch {
    /* start from the beginning: the ids deduplicate */
  }
  const sub = await operation("liveNotifications");
  if (sub) {
    connect(sub);
    window.addEventListener("online", () => { if (!socket) connect(sub); });
  } else if (await operation("inbox")) {
    pollTimer = setInterval(poll, 60000);
  }
}

export function stopLive() {
  stopped = true;
  if (socket) socket.close();
  clearInterval(pollTimer);
  seen.clear();
}
