// GraphQL client: loads named operations from /operations/*.graphql and sends only those.
//
// Errors become one of three kinds the screens understand:
//   NotAvailable  - no document/operation for it, or the server's schema lacks the field
//   OfflineError  - the network is down (the service worker may still answer from cache)
//   ApiError      - the server said no (with extensions.code)

import { OPERATIONS } from "./operations.js";
import { logout, token } from "./auth.js";

export class NotAvailable extends Error {
  constructor(feature, detail = "") {
    super(`${feature} is not available on this server yet${detail ? `: ${detail}` : ""}`);
    this.feature = feature;
  }
}
export class OfflineError extends Error {}
export class ApiError extends Error {
  constructor(message, code, field) {
    super(message);
    this.code = code;
    this.field = field;
  }
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

function withFragments(defs, op) {
  const fragments = new Map(defs.filter((d) => d.kind === "fragment").map((d) => [d.name, d]));
  const needed = new Set();
  const visit = (text) => {
    for (const [, name] of text.matchAll(/\.\.\.\s*([_A-Za-z][_0-9A-Za-z]*)/g)) {
      if (name !== "on" && fragments.has(name) && !needed.has(name)) {
        needed.add(name);
        visit(fragments.get(name).text);
      }
    }
  };
  visit(op.text);
  return [op.text, ...[...needed].map((n) => fragments.get(n).text)].join("\n\n");
}

/** The operation for a feature key: {name, text, kind, file} or null when none is published. */
export function operation(key) {
  if (!resolved.has(key)) {
    resolved.set(key, (async () => {
      for (const [file, name] of OPERATIONS[key] || []) {
        const doc = await loadDocument(file);
        if (!doc) continue;
        const defs = definitions(doc);
        const op = defs.find((d) => d.kind !== "fragment" && d.name === name);
        if (op) return { name, kind: op.kind, file, text: withFragments(defs, op) };
      }
      return null;
    })());
  }
  return resolved.get(key);
}

const SCHEMA_GAP = /Cannot query field|Unknown argument|Unknown type|is not defined by type|Unknown operation|Cannot return null for non-nullable field Query/;

/**
 * Send the operation for `key`. `cache`: "network" (default, the service worker falls back to
 * its cached answer when offline) or "cache-only" (answer from the service worker's cache).
 * Resolves to {data, cachedAt} (cachedAt: ISO time when the answer came from the cache).
 */
export async function send(key, variables = {}, { cache = "network" } = {}) {
  const op = await operation(key);
  if (!op) throw new NotAvailable(key, "no GraphQL document for it");
  const headers = { "Content-Type": "application/json" };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (op.kind === "query") headers["X-Fieldrep-Cache"] = cache;
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
  if (response.headers.get("X-Fieldrep-Cache") === "miss") throw new OfflineError("not cached");
  if (response.headers.get("X-Fieldrep-Offline")) {
    throw new OfflineError("You are offline and this is not cached yet.");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`Server error (HTTP ${response.status})`, "INTERNAL_SERVER_ERROR");
  }
  const errors = body.errors || [];
  if (errors.length) {
    const first = errors[0];
    const code = first.extensions?.code;
    if (code === "UNAUTHENTICATED") {
      await logout();
      throw new ApiError("Your session ended; please log in again.", code);
    }
    if (!code && SCHEMA_GAP.test(first.message)) throw new NotAvailable(key, first.message);
    if (!body.data) throw new ApiError(first.message, code, first.extensions?.field);
  }
  return { data: body.data, cachedAt: response.headers.get("X-Fieldrep-Cached-At") };
}

/**
 * Stale-while-revalidate for screens: paint the cached answer at once (if the service worker
 * has one), then the fresh one. `paint(data, {cachedAt})` may be called twice.
 */
export async function load(key, variables, paint) {
  let painted = false;
  if (navigator.serviceWorker?.controller) {
    try {
      const cached = await send(key, variables, { cache: "cache-only" });
      paint(cached.data, { cachedAt: cached.cachedAt });
      painted = true;
    } catch (err) {
      if (err instanceof NotAvailable) throw err;
    }
  }
  try {
    const fresh = await send(key, variables);
    paint(fresh.data, { cachedAt: fresh.cachedAt });
  } catch (err) {
    if (!(painted && err instanceof OfflineError)) throw err;
  }
}
