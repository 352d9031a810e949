// The session: the bearer token from POST /auth/token, kept in localStorage.

const KEY = "fieldrep.session";
const listeners = new Set();

export function session() {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) || "null");
    if (s && s.expiresAt > Date.now()) return s;
  } catch {
    /* a corrupt entry is the same as none */
  }
  return null;
}

export function token() {
  return session()?.token || null;
}

export function onSessionChange(fn) {
  listeners.add(fn);
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
  const data = await response.json();
  const s = {
    token: data.access_token,
    role: data.role,
    email: email.trim().toLowerCase(),
    expiresAt: Date.now() + data.expires_in * 1000,
  };
  localStorage.setItem(KEY, JSON.stringify(s));
  listeners.forEach((fn) => fn(s));
  return s;
}

export async function logout() {
  localStorage.removeItem(KEY);
  localStorage.removeItem("fieldrep.myDaySnapshot"); // the last "my day" painted at start-up
  // Cached API answers belong to the user who logged out.
  navigator.serviceWorker?.controller?.postMessage({ type: "clear-data" });
  listeners.forEach((fn) => fn(null));
}
