// Check-ins and check-outs go through an IndexedDB outbox: written at once (so they survive
// being offline, a reload or a dead battery), sent when online, retried safely because every
// entry carries its client id (crypto.randomUUID()) and the server treats resends as the same
// visit. The sync badge shows what is waiting.

import * as db from "./idb.js";
import { ApiError, NotAvailable, OfflineError, send } from "./api.js";
import { session } from "./auth.js";

const me = () => session()?.email || "";

const listeners = new Set();
let flushing = null;
let lastError = null;

/** The last error a flush met (for the sync badge's tooltip and for debugging). */
export function lastSyncError() {
  return lastError;
}

export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

async function notify() {
  const s = await status();
  listeners.forEach((fn) => fn(s));
}

/** {waiting, failed, blocked, online} for the sync badge. */
export async function status() {
  const entries = (await db.all("outbox")).filter((e) => e.user === me());
  return {
    waiting: entries.filter((e) => !e.failed).length,
    failed: entries.filter((e) => e.failed).length,
    blocked: entries.find((e) => e.blocked)?.blocked || null,
    online: navigator.onLine,
  };
}

function newId() {
  return crypto.randomUUID();
}

/** Queue a check-in; returns the local visit record. */
export async function checkIn({ account, position, notes, outcome }) {
  const clientId = newId();
  const at = new Date().toISOString();
  const visit = {
    clientId, user: me(), accountId: account.id, accountName: account.name, checkInAt: at,
    checkOutAt: null, notes: notes || null, outcome: outcome || null, synced: false,
  };
  await db.put("visits", visit);
  await db.put("outbox", {
    clientId, user: me(), kind: "checkIn", createdAt: Date.now(), attempts: 0,
    input: { clientId, accountId: account.id, at, position, notes: notes || null, outcome: outcome || null },
  });
  await notify();
  flush();
  return visit;
}

/** Queue the check-out of a local visit. */
export async function checkOut(visit, { position, notes, outcome }) {
  const clientId = newId();
  const at = new Date().toISOString();
  await db.put("visits", {
    ...visit, checkOutAt: at, checkOutNotes: notes || null, outcome: outcome || visit.outcome || null, checkOutSynced: false,
  });
  await db.put("outbox", {
    clientId, user: me(), kind: "checkOut", createdAt: Date.now(), attempts: 0, visitClientId: visit.clientId,
    input: { clientId, visitClientId: visit.clientId, at, position: position || null, notes: notes || null, outcome: outcome || null },
  });
  await notify();
  flush();
}

/** This device's visits at one account, newest first. */
export async function visitsOf(accountId) {
  const visits = await db.all("visits");
  return visits.filter((v) => v.accountId === accountId && v.user === me()).sort((a, b) => b.checkInAt.localeCompare(a.checkInAt));
}

async function markSent(entry, result) {
  await db.remove("outbox", entry.clientId);
  const key = entry.kind === "checkIn" ? entry.clientId : entry.visitClientId;
  const visit = await db.get("visits", key);
  if (visit) {
    const patch = entry.kind === "checkIn" ? { synced: true, serverId: result?.id } : { checkOutSynced: true };
    await db.put("visits", { ...visit, ...patch });
  }
}

async function sendOne(entry) {
  const { data } = await send(entry.kind, { input: entry.input });
  return data?.[entry.kind];
}

/** Send everything waiting, oldest first; stops at the first network failure. */
export function flush() {
  if (!flushing) flushing = sendAll().finally(() => { flushing = null; });
  return flushing;
}

async function sendAll() {
  try {
    if (!navigator.onLine) return;
    const entries = (await db.all("outbox")).filter((e) => !e.failed && e.user === me()).sort((a, b) => a.createdAt - b.createdAt);
    for (const entry of entries) {
      try {
        await markSent(entry, await sendOne(entry));
      } catch (err) {
        lastError = `${err.constructor.name}: ${err.message}`;
        if (err instanceof OfflineError) break;
        if (err instanceof NotAvailable) {
          await db.put("outbox", { ...entry, blocked: "this server does not accept check-ins yet" });
          break;
        }
        const permanent = err instanceof ApiError && ["BAD_USER_INPUT", "NOT_FOUND", "CONFLICT", "FORBIDDEN"].includes(err.code);
        await db.put("outbox", { ...entry, attempts: entry.attempts + 1, lastError: err.message, failed: permanent });
        if (!permanent) break;
      }
    }
  } finally {
    await notify();
  }
}

window.addEventListener("online", () => flush());
// The first "online" can come before the network really answers: retry while entries wait.
setInterval(() => { if (navigator.onLine) status().then((s) => s.waiting && flush()); }, 10000);
window.addEventListener("offline", () => notify());
