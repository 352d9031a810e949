// The prioritized account list: score and reasons, filters (due, tier), "near me", paging.

import { load, NotAvailable, OfflineError } from "../api.js";
import { currentPosition } from "../geo.js";
import { errorBlock, fmtDate, h, render, unavailable } from "../ui.js";

const PAGE = 30;
const NEAR_RADIUS_M = 15000;
const state = { orderBy: "PRIORITY", due: false, tier: "", near: null, query: "" };

function filterInput() {
  const filter = {};
  if (state.due) filter.due = true;
  if (state.tier) filter.tier = state.tier;
  if (state.near) filter.near = { lat: state.near.lat, lon: state.near.lon, radiusM: NEAR_RADIUS_M };
  return Object.keys(filter).length ? filter : null;
}

function dueLabel(p) {
  if (!p) return null;
  if (p.dueInDays === null || p.dueInDays === undefined) return h("span", { class: "pill warn" }, "never visited");
  if (p.overdueDays > 0) return h("span", { class: "pill warn" }, `${p.overdueDays} d overdue`);
  if (p.dueInDays <= 0) return h("span", { class: "pill warn" }, "due today");
  return h("span", { class: "pill ok" }, `due in ${p.dueInDays} d`);
}

function item(node) {
  const p = node.priority;
  const dist = node.distanceM != null ? `${(node.distanceM / 1000).toFixed(1)} km` : null;
  return h("li", { dataset: { accountId: node.id } },
    h("a", { href: `#/account/${encodeURIComponent(node.id)}`, "aria-label": `${node.name}${p ? `, priority ${Math.round(p.score)}` : ""}` },
      h("div", { class: "row-head" },
        h("span", { class: "name" }, node.name),
        p ? h("span", { class: "score", title: "Priority score (0–100)" }, Math.round(p.score)) : null),
      h("div", { class: "small muted" },
        node.tier ? h("span", { class: "pill" }, `Tier ${node.tier}`) : null,
        dueLabel(p),
        node.segment ? ` ${node.segment}` : "",
        dist ? ` · ${dist}` : "",
        node.lastVisitAt ? ` · last visit ${fmtDate(node.lastVisitAt)}` : ""),
      p && p.reasons.length ? h("ul", { class: "reasons" }, p.reasons.slice(0, 3).map((r) => h("li", {}, r))) : null));
}

export function show(view) {
  const list = h("ul", { class: "list", id: "account-list", "aria-label": "Accounts" });
  const status = h("p", { class: "muted small", role: "status" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const search = h("input", { id: "account-search", type: "search", placeholder: "Name…", value: state.query });
  const order = h("select", { id: "account-order" },
    [["PRIORITY", "Priority"], ["NAME", "Name"], ["DISTANCE", "Distance (near me)"]].map(([v, t]) => h("option", { value: v, selected: state.orderBy === v }, t)));
  const tier = h("select", { id: "account-tier" },
    [["", "All tiers"], ["A", "Tier A"], ["B", "Tier B"], ["C", "Tier C"], ["D", "Tier D"]].map(([v, t]) => h("option", { value: v, selected: state.tier === v }, t)));
  const due = h("input", { id: "account-due", type: "checkbox", checked: state.due });
  const nearBtn = h("button", { type: "button", class: "secondary", "aria-pressed": String(Boolean(state.near)) }, "Near me");
  let nodes = [];
  let cursor = null;
  let generation = 0;

  const paint = () => {
    const q = state.query.trim().toLowerCase();
    const shown = q ? nodes.filter((n) => n.name.toLowerCase().includes(q)) : nodes;
    render(list, shown.map(item));
    if (!shown.length) list.append(h("li", {}, h("div", { class: "row muted" }, "No accounts match.")));
  };

  async function fetchPage(reset) {
    const mine = ++generation;
    if (reset) { nodes = []; cursor = null; }
    status.textContent = "Loading…";
    const variables = { first: PAGE, after: cursor, orderBy: state.orderBy, filter: filterInput() };
    try {
      await load("accounts", variables, (data, { cachedAt }) => {
        if (mine !== generation) return;
        const conn = data.myAccounts;
        const page = conn.edges.map((e) => e.node);
        nodes = reset ? page : [...nodes.filter((n) => !page.some((p) => p.id === n.id)), ...page];
        cursor = conn.pageInfo.endCursor;
        more.hidden = !conn.pageInfo.hasNextPage;
        status.textContent = `${conn.totalCount} accounts${cachedAt ? ` · saved ${new Date(cachedAt).toLocaleTimeString()} (offline copy)` : ""}`;
        paint();
      });
    } catch (err) {
      if (mine !== generation) return;
      if (err instanceof NotAvailable) render(list, unavailable("Account list", err.message));
      else if (err instanceof OfflineError) render(list, h("li", {}, h("div", { class: "row" }, "Offline, and this list was not saved on this device yet.")));
      else render(list, errorBlock(err));
      status.textContent = "";
    }
  }

  search.addEventListener("input", () => { state.query = search.value; paint(); });
  order.addEventListener("change", async () => {
    state.orderBy = order.value;
    if (state.orderBy === "DISTANCE" && !state.near) await locate();
    else fetchPage(true);
  });
  tier.addEventListener("change", () => { state.tier = tier.value; fetchPage(true); });
  due.addEventListener("change", () => { state.due = due.checked; fetchPage(true); });
  more.addEventListener("click", () => fetchPage(false));

  async function locate() {
    if (state.near) {
      state.near = null;
      if (state.orderBy === "DISTANCE") { state.orderBy = "PRIORITY"; order.value = "PRIORITY"; }
    } else {
      status.textContent = "Finding your position…";
      const pos = await currentPosition();
      if (!pos) {
        status.textContent = "Your position is not available (allow location access).";
        state.orderBy = order.value = "PRIORITY";
        return;
      }
      state.near = pos;
      state.orderBy = "DISTANCE";
      order.value = "DISTANCE";
    }
    nearBtn.setAttribute("aria-pressed", String(Boolean(state.near)));
    fetchPage(true);
  }
  nearBtn.addEventListener("click", locate);

  render(view,
    h("h2", {}, "Accounts"),
    h("div", { class: "toolbar" },
      h("div", { class: "grow" }, h("label", { for: "account-search" }, "Search"), search),
      h("div", {}, h("label", { for: "account-order" }, "Order"), order),
      h("div", {}, h("label", { for: "account-tier" }, "Tier"), tier),
      h("label", { class: "checkbox", for: "account-due" }, due, "Due only"),
      nearBtn),
    status, list, more);
  fetchPage(true);
}
