// The notification inbox (cached for offline), updated live.

import { load, NotAvailable, OfflineError, send } from "../api.js";
import { inboxItems, showTerritoryChange } from "../banner.js";
import { errorBlock, fmtDate, fmtTime, h, render, unavailable } from "../ui.js";

function item(n) {
  const unread = !n.readAt;
  const open = h("button", { type: "button", class: "secondary", "aria-label": `Open ${n.title}` }, "Open");
  open.addEventListener("click", async () => {
    if (/territory/i.test(n.type || "") && !n.acknowledgedAt) showTerritoryChange(n);
    if (unread && n.cursor) send("markRead", { upTo: n.cursor }).catch(() => undefined);
  });
  return h("li", { dataset: { notification: n.id, unread: String(unread) } },
    h("div", { class: "row" },
      h("div", { class: "row-head" },
        h("span", { class: "name" }, unread ? "● " : "", n.title || n.type),
        h("span", { class: "small muted" }, `${fmtDate(n.createdAt)} ${fmtTime(n.createdAt)}`)),
      n.body ? h("p", { class: "small" }, n.body) : null,
      n.acknowledgedAt ? h("span", { class: "pill ok" }, "acknowledged") : null,
      h("div", { class: "actions" }, open)));
}

export function show(view) {
  const list = h("ul", { class: "list", id: "inbox-list", "aria-label": "Notifications" }, h("li", {}, h("div", { class: "row muted" }, "Loading…")));
  const status = h("p", { class: "small muted", role: "status" });
  render(view, h("h2", {}, "Inbox"), status, list);
  let items = [];
  const paint = () => render(list, items.length ? items.map(item) : h("li", {}, h("div", { class: "row muted" }, "No notifications.")));
  load("inbox", {}, (data, { cachedAt }) => {
    items = inboxItems(data);
    status.textContent = cachedAt ? `Offline copy saved ${new Date(cachedAt).toLocaleString()}` : "";
    paint();
  }).catch((err) => {
    if (err instanceof NotAvailable) render(list, unavailable("Notification inbox", err.message));
    else if (err instanceof OfflineError) render(list, h("li", {}, h("div", { class: "row" }, "Offline, and the inbox was not saved on this device yet.")));
    else render(list, errorBlock(err));
  });
  const onLive = (e) => {
    if (!items.some((n) => n.id === e.detail.id)) {
      items = [e.detail, ...items];
      paint();
    }
  };
  window.addEventListener("fieldrep:notification", onLive);
  return () => window.removeEventListener("fieldrep:notification", onLive);
}
