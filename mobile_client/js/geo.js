// The device position: a fresh GPS fix when possible, else the last one (kept in localStorage).

const KEY = "fieldrep.lastPosition";

export function lastPosition() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || "null");
  } catch {
    return null;
  }
}

/** {lat, lon, accuracyM} or null when the device will not say. */
export function currentPosition({ timeout = 6000 } = {}) {
  if (!("geolocation" in navigator)) return Promise.resolve(lastPosition());
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (p) => {
        const pos = { lat: p.coords.latitude, lon: p.coords.longitude, accuracyM: p.coords.accuracy };
        localStorage.setItem(KEY, JSON.stringify(pos));
        resolve(pos);
      },
      () => resolve(lastPosition()),
      { enableHighAccuracy: true, timeout, maximumAge: 60000 },
    );
  });
}
