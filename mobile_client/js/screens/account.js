// Account detail: facts, one-tap navigation, check-in / check-out with notes (offline-safe).

import { load, NotAvailable, OfflineError } from "../api.js";
import { currentPosition } from "../geo.js";
import * as outbox from "../outbox.js";
import { entryActions, entryState } from "../outbox_view.js";
import { errorBlock, fmtDate, fmtTime, h, navigationUrl, render, toast, unavailable } from "../ui.js";

const OUTCOMES = ["", "order", "follow-up", "no decision maker", "closed"];

function facts(a) {
  const rows = [
    ["Address", a.address || "–"],
    ["Segment", a.segment || "–"],
    ["Tier", a.tier || "–"],
    ["Potential", a.potential != null ? Math.round(a.potential).toLocaleString() : "–"],
    ["Visit every", `${a.visitCadenceDays} days (${a.visitDurationMin} min)`],
    ["Opening hours", a.openingHours || "–"],
    ["Open opportunities", a.openOpportunities ?? "–"],
    ["Last visit", fmtDate(a.lastVisitAt)],
  ];
  return h("dl", { class: "facts" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]));
}

/** The outbox entries of a visit that need the rep: refused or backing off, with the reason. */
function problems(pending) {
  return (pending || []).filter((e) => e.state === "failed" || e.state === "retrying")
    .map((e) => h("div", { class: "outbox-problem", dataset: { outbox: e.clientId, state: e.state } }, entryState(e), entryActions(e)));
}

function visitItem(v, pending) {
  const label = (synced, kind) => {
    if (synced) return "synced";
    const entry = (pending || []).find((e) => e.kind === kind);
    return entry?.state === "failed" ? "not accepted" : "waiting to sync";
  };
  const inState = label(v.synced, "checkIn");
  const outState = v.checkOutAt ? label(v.checkOutSynced, "checkOut") : null;
  return h("li", { dataset: { visit: v.clientId, synced: String(Boolean(v.synced && (!v.checkOutAt || v.checkOutSynced))) } },
    h("div", { class: "row" },
      h("div", {}, `Checked in ${fmtTime(v.checkInAt)} `, h("span", { class: `pill ${v.synced ? "ok" : "warn"}` }, inState)),
      v.checkOutAt ? h("div", {}, `Checked out ${fmtTime(v.checkOutAt)} `, h("span", { class: `pill ${v.checkOutSynced ? "ok" : "warn"}` }, outState)) : null,
      v.notes ? h("div", { class: "small muted visit-notes" }, `Notes: ${v.notes}`) : null,
      v.checkOutNotes ? h("div", { class: "small muted visit-checkout-notes" }, `Check-out notes: ${v.checkOutNotes}`) : null,
      v.outcome ? h("div", { class: "small visit-outcome" }, `Outcome: ${v.outcome}`) : null,
      problems(pending)));
}

export function show(view, [id]) {
  let account = null;
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const visitsList = h("ul", { class: "list", "aria-label": "Visits from this device" });
  const notes = h("textarea", { id: "visit-notes", name: "notes", maxlength: 2000 });
  const outcome = h("select", { id: "visit-outcome" }, OUTCOMES.map((o) => h("option", { value: o }, o || "—")));
  const action = h("button", { type: "submit", id: "visit-action" }, "Check in");
  const formStatus = h("p", { class: "small", role: "status" });
  let open = null;

  async function refreshVisits() {
    const [visits, pending] = await Promise.all([outbox.visitsOf(id), outbox.stateOfVisits()]);
    open = visits.find((v) => !v.checkOutAt) || null;
    action.textContent = open ? "Check out" : "Check in";
    render(visitsList, visits.length
      ? visits.map((v) => visitItem(v, pending.get(v.clientId)))
      : h("li", {}, h("div", { class: "row muted" }, "No visits from this device yet.")));
  }

  const form = h("form", { class: "card", "aria-labelledby": "visit-title" },
    h("h3", { id: "visit-title" }, "Visit"),
    h("div", { class: "field" }, h("label", { for: "visit-notes" }, "Notes"), notes),
    h("div", { class: "field" }, h("label", { for: "visit-outcome" }, "Outcome"), outcome),
    action, formStatus);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!account) return;
    action.disabled = true;
    try {
      const pos = await currentPosition();
      const position = pos
        ? { lat: pos.lat, lon: pos.lon, accuracyM: pos.accuracyM ?? null }
        : { lat: account.location.lat, lon: account.location.lon, accuracyM: null };
      const input = { position, notes: notes.value.trim(), outcome: outcome.value };
      if (open) await outbox.checkOut(open, input);
      else await outbox.checkIn({ account, ...input });
      formStatus.textContent = pos ? "" : "No GPS fix: the account's position was sent instead.";
      toast(open ? `Checked out of ${account.name}` : `Checked in at ${account.name}`);
      notes.value = "";
      outcome.value = "";
      await outbox.flush();
    } finally {
      action.disabled = false;
      await refreshVisits();
    }
  });

  const unsubscribe = outbox.onChange(() => refreshVisits());

  render(view,
    h("p", {}, h("a", { href: "#/accounts" }, "← Accounts")),
    body);

  load("account", { id }, (data, { cachedAt }) => {
    account = data.account;
    const { lat, lon } = account.location;
    render(body,
      h("h2", {}, account.name),
      cachedAt ? h("p", { class: "notice small" }, `Offline copy saved ${new Date(cachedAt).toLocaleString()}.`) : null,
      h("div", { class: "actions" },
        h("a", { class: "button", href: navigationUrl(lat, lon, account.name), target: "_blank", rel: "noopener" }, "Navigate"),
        h("a", { class: "button secondary", href: "#/day" }, "My day")),
      h("div", { class: "card" }, facts(account)),
      form,
      h("h3", {}, "Visits"),
      visitsList);
    refreshVisits();
  }).catch((err) => {
    if (err instanceof NotAvailable) render(body, unavailable("Account detail", err.message));
    else if (err instanceof OfflineError) render(body, h("p", { class: "notice" }, "Offline, and this account was not saved on this device yet."));
    else render(body, errorBlock(err));
  });
  return unsubscribe;
}
