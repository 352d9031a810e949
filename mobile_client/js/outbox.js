// Check-ins and check-outs go through an IndexedDB outbox: written at once (so they survive
// being offline, a reload or a dead battery), sent when online, retried safely because every
// entry carries its client id (crypto.randomUUID()) and the server treats resends as the same
// visit. The sync badge shows what is waiting.
//
// What a failed send means decides what happens next (classify()):
//   offline    - nothing reached the server: stop, send again when the network is back;
//   server     - the server as a whole is busy or down (RATE_LIMITED, SERVICE_UNAVAILABLE, a
//                502/503/504): stop, wait (back-off, at least its Retry-After), then go on;
//   permanent  - the server refused this entry (BAD_USER_INPUT, NOT_FOUND, FORBIDDEN, CONFLICT):
//                resending cannot help, so the entry is marked failed with the server's reason
//                and the queue goes on with the next one; the rep sees it (screens/sync.js)
//                and retries or discards it;
//   temporary  - anything else about this entry (an internal error): it backs off on its own
//                and the queue goes on, so one entry the server chokes on never holds back the
//                check-ins after it.
// A check-out waits while its check-in is still in the outbox (it would be refused).

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

/** {waiting, failed, retrying, blocked, online} for the sync badge. */
export async function status() {
  const mine = (await db.all("outbox")).filter((e) => e.user === me());
  return {
    waiting: mine.filter((e) => !e.failed).length,
    failed: mine.filter((e) => e.failed).length,
    retrying: mine.filter((e) => !e.failed && e.retryAt).length,
    blocked: mine.find((e) => e.blocked)?.blocked || null,
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

/** Codes that say "this entry will never be accepted as it is". */
export const PERMANENT_CODES = new Set(["BAD_USER_INPUT", "NOT_FOUND", "FORBIDDEN", "CONFLICT"]);
/** Codes that say "the server cannot take anything right now". */
const SERVER_CODES = new Set(["RATE_LIMITED", "SERVICE_UNAVAILABLE", "UNAVAILABLE", "UNAUTHENTICATED"]);
const BASE_DELAY_MS = 2000;
const MAX_DELAY_MS = 5 * 60 * 1000;

/** "offline", "blocked", "server", "permanent" or "temporary" (see the top of this file). */
export function classify(err) {
  if (err instanceof OfflineError) return "offline";
  if (err instanceof NotAvailable) return "blocked";
  if (err instanceof ApiError) {
    if (PERMANENT_CODES.has(err.code)) return "permanent";
    if (SERVER_CODES.has(err.code) || [502, 503, 504].includes(err.status)) return "server";
  }
  return "temporary";
}

/** Exponential back-off with jitter (so phones do not retry in step), at least `retryAfter` s. */
export function backoffMs(attempts, retryAfter = null) {
  const exp = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.max(0, attempts - 1));
  return Math.max((retryAfter || 0) * 1000, exp * (0.8 + Math.random() * 0.4));
}

let pausedUntil = 0; // a server-wide refusal: no entry is sent before this (ms since epoch)
let timer = null;

function wakeAt(when) {
  clearTimeout(timer);
  timer = when ? setTimeout(() => flush(), Math.max(0, when - Date.now()) + 50) : null;
}

/**
 * Send everything waiting, oldest first. `force` (the rep's "Retry") ignores back-off.
 * Stops at a network failure or a server-wide refusal; skips past refused entries.
 */
export function flush({ force = false } = {}) {
  if (!flushing) flushing = sendAll(force).finally(() => { flushing = null; });
  else if (force) flushing = flushing.then(() => flush({ force }));
  return flushing;
}

async function sendAll(force) {
  try {
    if (!navigator.onLine) return;
    if (force) pausedUntil = 0;
    if (Date.now() < pausedUntil) return;
    const mine = (await db.all("outbox")).filter((e) => e.user === me()).sort((a, b) => a.createdAt - b.createdAt);
    // Check-ins not on the server yet: their check-outs wait for them.
    const held = new Set(mine.filter((e) => e.kind === "checkIn").map((e) => e.clientId));
    for (const entry of mine) {
      if (entry.failed) continue;
      if (entry.kind === "checkOut" && held.has(entry.visitClientId)) continue;
      if (!force && entry.retryAt > Date.now()) continue;
      try {
        await markSent(entry, await sendOne(entry));
        held.delete(entry.clientId);
      } catch (err) {
        lastError = `${err.constructor.name}: ${err.message}`;
        const kind = classify(err);
        if (kind === "offline") break;
        if (kind === "blocked") {
          await db.put("outbox", { ...entry, blocked: "this server does not accept check-ins yet" });
          break;
        }
        const attempts = (entry.attempts || 0) + 1;
        const failure = { attempts, lastError: err.message, code: err.code || null, field: err.field || null };
        if (kind === "permanent") {
          await db.put("outbox", { ...entry, ...failure, failed: true, failedAt: Date.now(), retryAt: 0 });
          continue;
        }
        const retryAt = Date.now() + backoffMs(attempts, err.retryAfter);
        await db.put("outbox", { ...entry, ...failure, retryAt });
        if (kind === "server") {
          pausedUntil = retryAt;
          break;
        }
      }
    }
  } finally {
    const due = (await db.all("outbox")).filter((e) => e.user === me() && !e.failed && e.retryAt).map((e) => e.retryAt);
    wakeAt(due.length ? Math.max(pausedUntil, Math.min(...due)) : null);
    await notify();
  }
}

/**
 * This user's outbox entries, oldest first, each with its account's name (from the local visit)
 * and its state: "failed" (refused: retry or discard), "retrying" (backing off), "held" (a
 * check-out waiting for its check-in) or "waiting".
 */
export async function entries() {
  const mine = (await db.all("outbox")).filter((e) => e.user === me()).sort((a, b) => a.createdAt - b.createdAt);
  const pendingCheckIns = new Set(mine.filter((e) => e.kind === "checkIn").map((e) => e.clientId));
  return Promise.all(mine.map(async (e) => {
    const visit = await db.get("visits", e.kind === "checkIn" ? e.clientId : e.visitClientId);
    let state = "waiting";
    if (e.failed) state = "failed";
    else if (e.kind === "checkOut" && pendingCheckIns.has(e.visitClientId)) state = "held";
    else if (e.retryAt) state = "retrying";
    return { ...e, state, accountId: visit?.accountId ?? e.input.accountId, accountName: visit?.accountName || null };
  }));
}

/** Send a failed (or backing-off) entry again now. */
export async function retry(clientId) {
  const entry = await db.get("outbox", clientId);
  if (!entry) return;
  await db.put("outbox", { ...entry, failed: false, retryAt: 0 });
  await notify();
  await flush({ force: true });
}

/**
 * Give up on an entry: it leaves the outbox and this device's visit record says so. A
 * discarded check-in takes its check-out with it (the server has no visit to close); a
 * discarded check-out reopens the visit, so the rep can check out again.
 */
export async function discard(clientId) {
  const entry = await db.get("outbox", clientId);
  if (!entry) return;
  await db.remove("outbox", clientId);
  if (entry.kind === "checkIn") {
    for (const other of await db.all("outbox")) {
      if (other.kind === "checkOut" && other.visitClientId === clientId) await db.remove("outbox", other.clientId);
    }
    await db.remove("visits", clientId);
  } else {
    const visit = await db.get("visits", entry.visitClientId);
    if (visit) await db.put("visits", { ...visit, checkOutAt: null, checkOutNotes: null, checkOutSynced: undefined });
  }
  await notify();
}

/** The outbox state of each local visit (client id -> entries of it), for the account screen. */
export async function stateOfVisits() {
  const byVisit = new Map();
  for (const e of await entries()) {
    const key = e.kind === "checkIn" ? e.clientId : e.visitClientId;
    byVisit.set(key, [...(byVisit.get(key) || []), e]);
  }
  return byVisit;
}

window.addEventListener("online", () => flush());
// The first "online" can come before the network really answers: retry while entries wait.
setInterval(() => { if (navigator.onLine) status().then((s) => s.waiting && flush()); }, 10000);
window.addEventListener("offline", () => notify());
