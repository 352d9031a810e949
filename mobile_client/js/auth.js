// The session: a short-lived access token and a refresh token from POST /auth/token, kept in
// localStorage. The access token lasts minutes; freshToken() trades the refresh token for a
// new pair shortly before it expires (POST /auth/refresh), so the app stays logged in for the
// refresh token's life (30 days by default) and works offline meanwhile. Each refresh token
// is single-use: the server revokes the whole login if a spent one comes back, so refreshes
// are serialised across this origin's tabs (Web Locks) and each re-reads the stored session.

const KEY = "fieldrep.session";
const RENEW_BEFORE_MS = 60 * 1000; // refresh a minute before the access token expires
const listeners = new Set();

function stored() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || "null");
  } catch {
    return null; // a corrupt entry is the same as none
  }
}

/** The session while it can still be used or renewed, else null. */
export function session() {
  const s = stored();
  if (!s) return null;
  const until = s.refreshToken ? s.refreshExpiresAt : s.expiresAt;
  return until > Date.now() ? s : null;
}

/** The access token as stored (it may have expired: see freshToken). */
export function token() {
  return session()?.token || null;
}

export function onSessionChange(fn) {
  listeners.add(fn);
}

function save(data, email) {
  const now = Date.now();
  const s = {
    token: data.access_token,
    refreshToken: data.refresh_token || null,
    role: data.role,
    email,
    expiresAt: now + data.expires_in * 1000,
    refreshExpiresAt: data.refresh_token ? now + data.refresh_expires_in * 1000 : null,
  };
  localStorage.setItem(KEY, JSON.stringify(s));
  return s;
}

function withLock(fn) {
  return navigator.locks?.request ? navigator.locks.request("fieldrep.refresh", fn) : fn();
}

let renewing = null;

/**
 * Trade the refresh token for a new pair. Resolves to the renewed session, or null when it
 * could not be renewed now (offline, server busy: the stored session stays) or ever (401: the
 * login was ended or revoked; the app logs out). `refused` is an access token the server
 * refused: renew even though it has not expired yet.
 */
export function renewSession(refused = null) {
  renewing ||= withLock(async () => {
    const before = session();
    if (!before?.refreshToken) return null;
    // Another tab may have renewed while this one waited for the lock.
    const renewedElsewhere = refused
      ? before.token !== refused
      : before.expiresAt - Date.now() > RENEW_BEFORE_MS;
    if (renewedElsewhere) return before;
    let response;
    try {
      response = await fetch("/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: before.refreshToken }),
      });
    } catch {
      return null; // offline: keep the session, try again on the next request
    }
    if (response.status === 401) {
      await logout({ tellServer: false });
      return null;
    }
    if (!response.ok) return null;
    return save(await response.json(), before.email);
  }).finally(() => {
    renewing = null;
  });
  return renewing;
}

/** An access token that is valid for at least another minute when the server can be reached. */
export async function freshToken() {
  const s = session();
  if (!s) return null;
  if (s.refreshToken && s.expiresAt - Date.now() < RENEW_BEFORE_MS) {
    const renewed = await renewSession();
    return renewed?.token || session()?.token || null;
  }
  return s.token;
}

export async function login(email, password) {
  const body = new URLSearchParams({ username: email, password });
  let response;
  try {
    response = await fetch("/auth/token", { method: "POST", body });
  } catch {
    throw new Error("You are offline: log in once while online, then the app works offline.");
  }
  if (response.status === 401) throw new Error("Wrong e-mail or password.");
  if (!response.ok) throw new Error(`Login failed (HTTP ${response.status}).`);
  const s = save(await response.json(), email.trim().toLowerCase());
  listeners.forEach((fn) => fn(s));
  return s;
}

/**
 * End the session on this device. The server is told (best effort) so the refresh token
 * stops working even if a copy of it exists; not when the server itself ended the session.
 */
export async function logout({ tellServer = true } = {}) {
  const refreshToken = stored()?.refreshToken;
  localStorage.removeItem(KEY);
  localStorage.removeItem("fieldrep.myDaySnapshot"); // the last "my day" painted at start-up
  if (tellServer && refreshToken) {
    fetch("/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refreshToken }),
    }).catch(() => {}); // offline: the token expires on its own
  }
  // Cached API answers belong to the user who logged out.
  navigator.serviceWorker?.controller?.postMessage({ type: "clear-data" });
  listeners.forEach((fn) => fn(null));
}
