// Leaflet maps. Base layer: raster tiles when a tile URL is configured, otherwise (default)
// the road network drawn from the API's roadNetwork field, so the map works offline and
// without any tile server. Attribution always credits OpenStreetMap.

import { load, NotAvailable } from "./api.js";
import { decode } from "./polyline.js";
import { tilesUrl } from "./settings.js";
import { h } from "./ui.js";

export const ATTRIBUTION = "© OpenStreetMap contributors";
export const PALETTE = ["#0b5cad", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207", "#be185d"];

let leaflet = null;
function loadLeaflet() {
  if (!leaflet) {
    leaflet = new Promise((resolve, reject) => {
      document.head.append(h("link", { rel: "stylesheet", href: "vendor/leaflet/leaflet.css" }));
      const script = h("script", { src: "vendor/leaflet/leaflet.js" });
      script.onload = () => resolve(window.L);
      script.onerror = () => reject(new Error("could not load the map library"));
      document.head.append(script);
    });
  }
  return leaflet;
}

/**
 * A map in `el`. Returns {L, map, mode, fit(latlngs), alive()}; `mode` is "tiles" or "roads";
 * `alive()` turns false once the screen removed the map (late answers must not draw).
 * The caller adds its own layers (route, stops, outlines).
 */
export async function createMap(el, { label = "Map" } = {}) {
  const L = await loadLeaflet();
  el.setAttribute("role", "region");
  el.setAttribute("aria-label", label);
  const renderer = L.canvas({ padding: 0.2 });
  const map = L.map(el, { preferCanvas: true, renderer, zoomSnap: 0.25 });
  map.attributionControl.addAttribution(ATTRIBUTION);
  map.setView([47.14, 9.52], 11);
  let removed = false;
  map.on("unload", () => { removed = true; });
  const alive = () => !removed;
  const url = tilesUrl();
  const mode = url ? "tiles" : "roads";
  el.dataset.mode = mode;
  if (url) {
    L.tileLayer(url, { attribution: ATTRIBUTION, maxZoom: 19 }).addTo(map);
  } else {
    drawRoads(L, map, renderer, el, alive).catch(() => undefined);
  }
  const fit = (latlngs) => {
    if (alive() && latlngs.length) map.fitBounds(L.latLngBounds(latlngs), { padding: [24, 24], maxZoom: 15 });
  };
  return { L, map, mode, fit, renderer, alive };
}

async function drawRoads(L, map, renderer, el, alive) {
  let layer = null;
  try {
    await load("roadNetwork", {}, (data) => {
      const net = data.roadNetwork;
      if (!alive()) return;
      if (layer) layer.remove();
      layer = L.polyline(net.segments.map((s) => decode(s)), {
        renderer, color: "#8593a3", weight: 1.5, opacity: 0.9, interactive: false,
      }).addTo(map);
      layer.bringToBack();
      el.dataset.roads = String(net.segmentCount);
    });
  } catch (err) {
    el.dataset.roads = err instanceof NotAvailable ? "unavailable" : "error";
  }
}

/**
 * Remove a map when its screen goes away. A zoom animation in flight (fitBounds) finishes on a
 * timer and would then touch the removed map and throw, so such a map goes at its "zoomend";
 * a pan in flight is stopped first.
 */
export function removeMap(map) {
  // A pan in flight steps on animation frames and would redraw the canvas of a removed map.
  map.stop();
  if (map._animatingZoom) map.once("zoomend", () => map.remove());
  else map.remove();
}

// Leaflet reads a string given to bindPopup, bindTooltip or divIcon({html}) as HTML. Every
// such content here is an element built with textContent (ui.js's h), so names from the
// server (accounts, territories) always show as text.

/** An element holding `text` as text, for Leaflet's popups and tooltips. */
export function textContent(text, className = "map-label") {
  return h("span", { class: className }, text);
}

/** A numbered stop marker (keyboard-focusable, labelled). */
export function stopMarker(L, lat, lon, number, title) {
  return L.marker([lat, lon], {
    title: `${number}. ${title}`,
    alt: `Stop ${number}: ${title}`,
    keyboard: true,
    icon: L.divIcon({ className: "", html: h("span", { class: "stop-icon", "aria-hidden": "true" }, String(number)), iconSize: [26, 26], iconAnchor: [13, 13] }),
  });
}

export function homeMarker(L, lat, lon) {
  return L.marker([lat, lon], {
    title: "Home base", alt: "Home base", keyboard: true,
    icon: L.divIcon({ className: "", html: h("span", { class: "home-icon", "aria-hidden": "true" }, "⌂"), iconSize: [22, 22], iconAnchor: [11, 11] }),
  });
}

/** Draw GeoJSON territory outlines, coloured by index. Returns the layers. */
export function drawOutlines(L, map, outlines, { fill = 0.12 } = {}) {
  return outlines.filter((o) => o.geojson).map((o, i) => {
    const color = PALETTE[i % PALETTE.length];
    return L.geoJSON(o.geojson, { style: { color, weight: 2.5, fillColor: color, fillOpacity: fill } })
      .bindTooltip(textContent(`${o.name} (${o.accountCount} accounts)`, "territory-label"))
      .addTo(map);
  });
}
