// The territory-change banner: what changed (accounts gained and lost) and an acknowledge
// button. Fed by the inbox at start-up and by live notifications.

import { send } from "./api.js";
import { h, render, toast } from "./ui.js";

const TERRITORY = /territory/i;
let shown = null;

function pick(obj, ...keys) {
  for (const k of keys) if (obj && obj[k] !== undefined) return obj[k];
  return undefined;
}

function payloadOf(n) {
  const p = n.payload;
  if (typeof p === "string") {
    try { return JSON.parse(p); } catch { return {}; }
  }
  return p || {};
}

function names(list) {
  return (list || []).map((a) => {
    const name = pick(a, "accountName", "account_name", "name") || `#${pick(a, "accountId", "account_id")}`;
    const note = pick(a, "note");
    return h("li", {}, name, note ? h("span", { class: "small" }, ` — ${note}`) : null);
  });
}

export function showTerritoryChange(n) {
  const banner = document.getElementById("banner");
  const p = payloadOf(n);
  const gained = pick(p, "gained") || [];
  const lost = pick(p, "lost") || [];
  const effective = pick(p, "effectiveDate", "effective_date");
  const ack = h("button", { type: "button", id: "ack-territory" }, "Acknowledge");
  ack.addEventListener("click", async () => {
    ack.disabled = true;
    try {
      await send("acknowledgeTerritoryChange", { id: n.id });
      banner.hidden = true;
      shown = null;
      toast("Territory change acknowledged.");
    } catch (err) {
      toast(`Could not acknowledge: ${err.message}`);
      ack.disabled = false;
    }
  });
  render(banner,
    h("h2", {}, n.title || "Your territory changes"),
    h("p", { class: "small" }, n.body || "", effective ? ` Effective ${effective}.` : ""),
    gained.length ? h("div", {}, h("strong", {}, `Gained (${gained.length})`), h("ul", {}, names(gained))) : null,
    lost.length ? h("div", {}, h("strong", {}, `Lost (${lost.length})`), h("ul", {}, names(lost))) : null,
    ack);
  banner.hidden = false;
  shown = n.id;
}

function isPendingTerritoryChange(n) {
  return TERRITORY.test(n.type || "") && !n.acknowledgedAt && n.id !== shown;
}

/** The inbox as a flat list, whatever its shape (list or connection). */
export function inboxItems(data) {
  const root = Object.values(data || {})[0];
  if (Array.isArray(root)) return root;
  return root?.edges?.map((e) => e.node) || root?.items || [];
}

let listening = false;
export async function startBanner() {
  if (!listening) {
    listening = true;
    window.addEventListener("fieldrep:notification", (e) => {
      if (isPendingTerritoryChange(e.detail)) showTerritoryChange(e.detail);
    });
  }
  try {
    const { data } = await send("inbox", {});
    const pending = inboxItems(data).find(isPendingTerritoryChange);
    if (pending) showTerritoryChange(pending);
  } catch {
    /* no inbox on this server yet, or offline: nothing to announce */
  }
}
