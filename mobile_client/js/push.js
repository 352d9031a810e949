// Web Push on this phone: ask permission, subscribe with the server's VAPID key, register the
// subscription with the API; and the way back. The service worker (sw.js) shows what arrives.
//
// The browser's push service can fail in ways that never settle (no Google services on the
// device, a blocked network): subscribing gives up after SUBSCRIBE_TIMEOUT_MS with a message.

import { NotAvailable, send } from "./api.js";

const SUBSCRIBE_TIMEOUT_MS = 15000;

export class PushError extends Error {}

/** Whether this browser can do Web Push at all (service worker, PushManager, notifications). */
export function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

/** "granted", "denied", "default" (not asked yet) or "unsupported". */
export function permission() {
  return pushSupported() ? Notification.permission : "unsupported";
}

async function registration() {
  const ready = navigator.serviceWorker.ready;
  const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 10000));
  const reg = await Promise.race([ready, timeout]);
  if (!reg) throw new PushError("The app's service worker is not running; reload the app and try again.");
  return reg;
}

/** This device's current push subscription, or null. */
export async function currentSubscription() {
  if (!pushSupported()) return null;
  try {
    return await (await registration()).pushManager.getSubscription();
  } catch {
    return null;
  }
}

/** base64url (VAPID public key) -> Uint8Array, as PushManager.subscribe wants it. */
export function base64UrlToBytes(text) {
  const base64 = (text + "=".repeat((4 - (text.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

function sameKey(subscription, key) {
  const current = subscription.options?.applicationServerKey;
  if (!current) return true; // the browser does not say: keep it
  const a = new Uint8Array(current);
  return a.length === key.length && a.every((b, i) => b === key[i]);
}

function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new PushError(message)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Turn push on: permission, subscription, registration with the API.
 * Resolves to the PushSubscription; rejects with PushError (or the API's error) saying why not.
 */
export async function enablePush() {
  if (!pushSupported()) throw new PushError("This browser cannot receive push notifications.");
  let granted = Notification.permission;
  if (granted === "default") granted = await Notification.requestPermission();
  if (granted !== "granted") {
    throw new PushError("Notifications are blocked for this app: allow them in the browser's site settings.");
  }
  const { data } = await send("vapidPublicKey", {});
  if (!data.vapidPublicKey) throw new NotAvailable("Push notifications", "Web Push is switched off on this server");
  const key = base64UrlToBytes(data.vapidPublicKey);
  const reg = await registration();
  let subscription = await reg.pushManager.getSubscription();
  if (subscription && !sameKey(subscription, key)) {
    // Subscribed with an older server key: push services refuse messages signed with the new one.
    await subscription.unsubscribe().catch(() => undefined);
    subscription = null;
  }
  if (!subscription) {
    try {
      subscription = await withTimeout(
        reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }),
        SUBSCRIBE_TIMEOUT_MS,
        "The phone's push service did not answer; try again later.",
      );
    } catch (err) {
      if (err instanceof PushError) throw err;
      throw new PushError(`This browser could not subscribe to push notifications (${err.message}).`);
    }
  }
  const json = subscription.toJSON();
  await send("registerPushSubscription", {
    subscription: { endpoint: json.endpoint, p256dh: json.keys.p256dh, auth: json.keys.auth },
  });
  return subscription;
}

/** Turn push off: tell the API first (it stops sending), then drop the browser's subscription. */
export async function disablePush() {
  const subscription = await currentSubscription();
  if (!subscription) return;
  await send("unregisterPushSubscription", { endpoint: subscription.endpoint });
  await subscription.unsubscribe();
}

/**
 * On logout: the next person on this phone must not get this user's notices. The API is told
 * while the session is still valid (best effort); the browser subscription is dropped anyway,
 * and the server forgets it at the next push when the push service answers 410 Gone.
 */
export async function forgetPush() {
  const subscription = await currentSubscription();
  if (!subscription) return;
  await withTimeout(send("unregisterPushSubscription", { endpoint: subscription.endpoint }), 3000, "timeout")
    .catch(() => undefined);
  await subscription.unsubscribe().catch(() => undefined);
}
