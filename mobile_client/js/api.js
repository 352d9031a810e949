// GraphQL client: loads named operations from /operations/*.graphql and sends only those.
//
// Errors become one of three kinds the screens understand:
//   NotAvailable  - no document/operation for it, or the server's schema lacks the field
//   OfflineError  - the network is down (the service worker may still answer from cache)
//   ApiError      - the server said no (with extensions.code)

import { OPERATIONS } from "./operations.js";
import { freshToken, logout, renewSession, session, token } from "./auth.js";

export class NotAvailable extends Error {
  constructor(feature, detail = "") {
    super(`${feature} is not available on this server yet${detail ? `: ${detail}` : ""}`);
    this.feature = feature;
  }
}
export class OfflineError extends Error {}
export class ApiError extends Error {
  /**
   * `status` is the HTTP status; `retryAfter` (seconds) comes from a RATE_LIMITED answer's
   * extensions or a Retry-After header: the outbox waits at least that long.
   */
  constructor(message, code, field, { status = 200, retryAfter = null } = {}) {
    super(message);
    this.code = code;
    this.field = field;
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

function retryAfterOf(response, extensions) {
  const value = Number(extensions?.retryAfter ?? response.headers.get("Retry-After"));
  return Number.isFinite(value) && value > 0 ? value : null;
}

const documents = new Map(); // file -> Promise<string|null>
const resolved = new Map(); // key -> Promise<{name, text}|null>

let swReady = Promise.resolve();
/** Probe documents only once the service worker answers (it turns 404s into quiet misses). */
export function setServiceWorkerReady(promise) {
  swReady = promise;
}

function loadDocument(file) {
  if (!documents.has(file)) {
    documents.set(file, swReady
      .then(() => fetch(`/operations/${file}.graphql`))
      .then((r) => (r.ok && !r.headers.get("X-Fieldrep-Missing") ? r.text() : null))
      .catch(() => null));
  }
  return documents.get(file);
}

/** Top-level definitions of a document: [{kind, name, text}], comments and strings respected. */
export function definitions(doc) {
  const out = [];
  let depth = 0;
  let start = -1;
  for (let i = 0; i < doc.length; i++) {
    const c = doc[i];
    if (c === "#") {
      while (i < doc.length && doc[i] !== "\n") i++;
      continue;
    }
    if (c === '"') {
      const block = doc.startsWith('"""', i);
      const end = block ? doc.indexOf('"""', i + 3) : doc.indexOf('"', i + 1);
      i = end < 0 ? doc.length : end + (block ? 2 : 0);
      continue;
    }
    if (depth === 0 && start < 0 && /[A-Za-z{]/.test(c)) start = i;
    if (c === "{") depth++;
    if (c === "}" && --depth === 0 && start >= 0) {
      const text = doc.slice(start, i + 1);
      const m = text.match(/^(query|mutation|subscription|fragment)\s+([_A-Za-z][_0-9A-Za-z]*)/);
      if (m) out.push({ kind: m[1], name: m[2], text });
      start = -1;
    }
  }
  return out;
}

/**
 * The operation for a feature key: {name, text, kind, file} or null when none is published.
 * `text` is the whole document file as published: the server's trusted-document allowlist
 * (production) knows files by their exact text, and `operationName` picks the operation.
 */
export function operation(key) {
  if (!resolved.has(key)) {
    resolved.set(key, (async () => {
      for (const [file, name] of OPERATIONS[key] || []) {
        const doc = await loadDocument(file);
        if (!doc) continue;
        const defs = definitions(doc);
        const op = defs.find((d) => d.kind !== "fragment" && d.name === name);
        if (op) return { name, kind: op.kind, file, text: doc };
      }
      return null;
    })());
  }
  return resolved.get(key);
}

const SCHEMA_GAP = /Cannot query field|Unknown argument|Unknown type|is not defined by type|Unknown operation|Cannot return null for non-nullable field Query/;

/**
 * Send the operation for `key`. Queries carry "X-Fieldrep-Cache: network": the service worker
 * stores the answer and falls back to it when offline. Resolves to {data, cachedAt} (cachedAt:
 * ISO time when the answer came from that store).
 */
export async function send(key, variables = {}, renewed = false) {
  const op = await operation(key);
  if (!op) throw new NotAvailable(key, "no GraphQL document for it");
  const headers = { "Content-Type": "application/json" };
  const t = await freshToken(); // renews the short-lived access token shortly before expiry
  if (t) headers.Authorization = `Bearer ${t}`;
  if (op.kind === "query") headers["X-Fieldrep-Cache"] = "network";
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers,
      body: JSON.stringify({ query: op.text, operationName: op.name, variables }),
    });
  } catch {
    throw new OfflineError("You are offline and this is not cached yet.");
  }
  if (response.headers.get("X-Fieldrep-Offline")) {
    throw new OfflineError("You are offline and this is not cached yet.");
  }
  const status = response.status;
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`Server error (HTTP ${status})`, "INTERNAL_SERVER_ERROR", undefined,
      { status, retryAfter: retryAfterOf(response) });
  }
  const errors = body?.errors || [];
  if (errors.length) {
    const first = errors[0];
    const code = first.extensions?.code;
    if (code === "UNAUTHENTICATED") {
      // An access token can die early (clock skew, a restarted key rotation): renew once.
      if (!renewed && session()?.refreshToken && (await renewSession(t))) return send(key, variables, true);
      await logout({ tellServer: false });
      throw new ApiError("Your session ended; please log in again.", code, undefined, { status });
    }
    if (!code && SCHEMA_GAP.test(first.message)) throw new NotAvailable(key, first.message);
    if (!body.data) {
      throw new ApiError(first.message, code, first.extensions?.field,
        { status, retryAfter: retryAfterOf(response, first.extensions) });
    }
  } else if (!body?.data) {
    // Not a GraphQL answer (a 503 "database unavailable", a 413 from the size limit...): an
    // error, never an empty success (the outbox would drop a check-in as sent).
    throw new ApiError(body?.message || `Server error (HTTP ${status})`, body?.code || `HTTP_${status}`, undefined,
      { status, retryAfter: retryAfterOf(response) });
  }
  return { data: body.data, cachedAt: response.headers.get("X-Fieldrep-Cached-At") };
}

const DATA_CACHE = "fieldrep-data"; // sw.js stores query answers here

/** The user id inside the bearer token (not verified: it only partitions this device's cache). */
function subject(bearer) {
  try {
    return JSON.parse(atob(bearer.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub || "anon";
  } catch {
    return "anon";
  }
}

/**
 * The stored answer to `key`'s query, read straight from Cache Storage (the key is sw.js's:
 * user, operation name, variables). Needs neither the document nor a running service worker,
 * so a screen can paint before either is ready. Resolves to {data, cachedAt} or null.
 */
export async function cachedAnswer(key, variables = {}) {
  if (!("caches" in window)) return null;
  const cache = await caches.open(DATA_CACHE);
  const user = encodeURIComponent(subject(token() || ""));
  const vars = encodeURIComponent(JSON.stringify(variables));
  for (const [, name] of OPERATIONS[key] || []) {
    const hit = await cache.match(`/__fieldrep-data/${user}/${encodeURIComponent(name)}?v=${vars}`);
    if (hit) return { data: (await hit.json()).data, cachedAt: hit.headers.get("X-Fieldrep-Cached-At") };
  }
  return null;
}

/**
 * Stale-while-revalidate for screens: paint the stored answer at once (if there is one), then
 * the fresh one. `paint(data, {cachedAt, source})` may be called twice; source is "cache" or
 * "network". Offline, the network answer is the stored one again: it is not painted twice.
 */
export async function load(key, variables, paint) {
  const cached = await cachedAnswer(key, variables).catch(() => null);
  if (cached) paint(cached.data, { cachedAt: cached.cachedAt, source: "cache" });
  try {
    const fresh = await send(key, variables);
    if (!cached || fresh.cachedAt !== cached.cachedAt) paint(fresh.data, { cachedAt: fresh.cachedAt, source: "network" });
  } catch (err) {
    if (!(cached && err instanceof OfflineError)) throw err;
  }
}
