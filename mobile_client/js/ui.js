// Small DOM helpers: build elements without innerHTML (no injection), toasts, formatters.

/**
 * Create an element: h("a", {href: "#/x", class: "y"}, "text", child).
 * Attributes starting with "on" become listeners; null/false attributes are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the content of `el` with `children`. */
export function render(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** The "not available yet" block shown when the server lacks a feature. */
export function unavailable(what, detail = "") {
  return h("div", { class: "unavailable", role: "note", "data-unavailable": what },
    h("strong", {}, `${what}: not available yet.`),
    " This server does not offer it yet; the app will show it once it does.",
    detail ? h("div", { class: "small" }, detail) : null);
}

export function errorBlock(err) {
  return h("p", { class: "error", role: "alert" }, err?.message || String(err));
}

export function toast(message, { timeout = 5000 } = {}) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = h("div", { class: "toast" }, message);
  box.append(item);
  setTimeout(() => item.remove(), timeout);
}

// Made on first use: the first Intl formatter loads the locale data (about 0.1 s on a slow
// phone), which must not hold up loading the modules.
let timeFmt = null;
let dateFmt = null;

export function fmtTime(iso) {
  timeFmt ??= new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  return iso ? timeFmt.format(new Date(iso)) : "–";
}
export function fmtDate(iso) {
  dateFmt ??= new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
  return iso ? dateFmt.format(new Date(iso)) : "never";
}
export function fmtDuration(seconds) {
  const m = Math.round((seconds || 0) / 60);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min`;
}
export function fmtKm(metres) {
  return `${((metres || 0) / 1000).toFixed(1)} km`;
}
export function fmtPercent(ratio) {
  return `${Math.round((ratio || 0) * 100)} %`;
}

/** Today as YYYY-MM-DD in the device's time zone. */
export function today() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/**
 * Now (or `d`) as ISO 8601 with the device's UTC offset, e.g. 2026-11-24T10:30:00+01:00: the
 * server reads the plan's date from it, which must be the local date, not UTC's.
 */
export function localIso(d = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  const offset = -d.getTimezoneOffset();
  const abs = Math.abs(offset);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
    + `${offset >= 0 ? "+" : "-"}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** Great-circle distance in metres. */
export function distanceM(a, b) {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.sqrt(s));
}

/** Deep-link to the phone's navigation app (Android geo: intent, Apple Maps on iOS, else OSM). */
export function navigationUrl(lat, lon, label = "") {
  const ua = navigator.userAgent;
  if (/Android/i.test(ua)) return `geo:0,0?q=${lat},${lon}(${encodeURIComponent(label)})`;
  if (/iPhone|iPad/i.test(ua)) return `https://maps.apple.com/?daddr=${lat},${lon}&dirflg=d`;
  return `https://www.openstreetmap.org/directions?engine=fossgis_osrm_car&route=%3B${lat}%2C${lon}`;
}
