// "My day": the planned route on the map (road geometry, numbered stops, territory outline)
// and the stop list with ETAs, navigation hand-off and re-planning from where the rep is.

import { load, NotAvailable, OfflineError, send } from "../api.js";
import { session } from "../auth.js";
import { currentPosition } from "../geo.js";
import { createMap, drawOutlines, homeMarker, removeMap, stopMarker, textContent } from "../map.js";
import { decode } from "../polyline.js";
import {
  errorBlock, fmtDuration, fmtKm, fmtPercent, fmtTime, h, localIso, navigationUrl, render, today, toast, unavailable,
} from "../ui.js";

// The stop list's first paint is measured (bench/bench_first_paint.py): a performance mark when
// it is rendered, and Element Timing on the first stop's name for when it is painted.
const PAINT_MARK = "fieldrep:my-day-stops";
// The list as last shown, kept for index.html to paint before any module loads (same user and
// day only); the screen takes over once it has the stored plan.
const SNAPSHOT_KEY = "fieldrep.myDaySnapshot";
const SNAPSHOT_MARK = "fieldrep:my-day-snapshot";

function stopItem(stop, index) {
  return h("li", { dataset: { stop: String(stop.sequence), status: stop.status } },
    h("div", { class: "stop" },
      h("span", { class: "num", "aria-hidden": "true" }, String(stop.sequence)),
      h("div", {},
        h("div", { class: "row-head" },
          h("a", { class: "name", href: `#/account/${encodeURIComponent(stop.accountId)}`, elementtiming: index === 0 ? PAINT_MARK : null }, stop.name),
          h("span", { class: "eta", title: "Estimated arrival" }, fmtTime(stop.arrival))),
        h("div", { class: "small muted" },
          `Visit ${fmtTime(stop.start)}–${fmtTime(stop.end)} · drive ${fmtDuration(stop.legSeconds)}, ${fmtKm(stop.legMetres)}`,
          stop.waitSeconds > 60 ? ` · wait ${fmtDuration(stop.waitSeconds)}` : "",
          stop.status === "done" ? " · " : "",
          stop.status === "done" ? h("span", { class: "pill ok" }, "done") : null),
        stop.hoursNote ? h("div", { class: "small" }, stop.hoursNote) : null,
        stop.reasons?.length ? h("ul", { class: "reasons" }, stop.reasons.slice(0, 2).map((r) => h("li", {}, r))) : null,
        h("div", { class: "actions" },
          h("a", { class: "button secondary", href: navigationUrl(stop.lat, stop.lon, stop.name), target: "_blank", rel: "noopener", "aria-label": `Navigate to ${stop.name}` }, "Navigate"),
          h("a", { class: "button secondary", href: `#/account/${encodeURIComponent(stop.accountId)}`, "aria-label": `Check in at ${stop.name}` }, "Check in")))));
}

export function show(view) {
  const mapEl = h("div", { id: "day-map", class: "map" });
  const summary = h("div", { role: "status" }, h("p", { class: "muted" }, "Loading your day…"));
  const list = h("ol", { class: "list stops", id: "stop-list", "aria-label": "Stops" });
  const replan = h("button", { type: "button", class: "secondary", id: "replan" }, "Re-plan from here");
  const routeLayers = [];
  // The map (Leaflet, then the road network drawn on a canvas) is the heaviest part of the
  // screen: it starts once the stop list is on screen, so a phone shows the plan first.
  let listShown;
  const listPainted = new Promise((resolve) => { listShown = resolve; });
  let mapReady = null;
  let outlinesDrawn = false;

  const dropped = h("div", {});
  const screen = [h("h2", {}, "My day"), mapEl, summary, list, dropped, h("div", { class: "actions" }, replan)];
  // index.html may have painted the last list already: it stays until there is something newer.
  let shown = view.dataset.snapshot !== "day";
  delete view.dataset.snapshot;
  const showScreen = () => {
    if (!shown) render(view, ...screen);
    shown = true;
  };
  if (shown) render(view, ...screen);
  mapReady = listPainted
    .then(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))))
    .then(() => createMap(mapEl, { label: "Map of today's route" }));

  async function drawTerritory() {
    const m = await mapReady;
    try {
      await load("territoryOutlines", {}, (data) => {
        if (outlinesDrawn || !m.alive()) return;
        outlinesDrawn = true;
        const layers = drawOutlines(m.L, m.map, data.territoryOutlines, { fill: 0.06 });
        if (!routeLayers.length && layers.length) m.map.fitBounds(layers[0].getBounds(), { padding: [16, 16] });
      });
    } catch {
      /* the outline is decoration: a missing field leaves the map without it */
    }
  }

  async function drawPlan(plan) {
    const m = await mapReady;
    if (!m.alive()) return;
    routeLayers.splice(0).forEach((l) => l.remove());
    const points = [];
    const legs = [...plan.stops.map((s) => s.legPolyline), plan.returnLeg?.legPolyline].filter(Boolean);
    for (const leg of legs) {
      const coords = decode(leg);
      points.push(...coords);
      routeLayers.push(m.L.polyline(coords, { color: "#0b5cad", weight: 5, opacity: 0.85 }).addTo(m.map));
    }
    routeLayers.push(homeMarker(m.L, plan.home.lat, plan.home.lon).addTo(m.map));
    for (const stop of plan.stops) {
      routeLayers.push(stopMarker(m.L, stop.lat, stop.lon, stop.sequence, stop.name).addTo(m.map)
        .bindPopup(textContent(`${stop.sequence}. ${stop.name} · ${fmtTime(stop.arrival)}`, "stop-label")));
      points.push([stop.lat, stop.lon]);
    }
    points.push([plan.home.lat, plan.home.lon]);
    m.fit(points);
    mapEl.dataset.stops = String(plan.stops.length);
  }

  function keepSnapshot() {
    const idle = window.requestIdleCallback || ((fn) => setTimeout(fn, 500));
    idle(() => {
      const user = session()?.email;
      if (!user || !view.contains(list)) return;
      const box = h("div", {}, h("h2", {}, "My day"), h("div", { class: "map", "aria-hidden": "true" }), summary.cloneNode(true), list.cloneNode(true));
      box.querySelector("[elementtiming]")?.setAttribute("elementtiming", SNAPSHOT_MARK);
      try {
        localStorage.setItem(SNAPSHOT_KEY, JSON.stringify({ user, date: today(), html: box.innerHTML }));
      } catch {
        /* storage full: the next start paints from the cache instead */
      }
    });
  }

  function paintPlan(plan, cachedAt, source = "network") {
    showScreen();
    const t = plan.totals;
    render(summary,
      cachedAt ? h("p", { class: "notice small" }, `Offline copy saved ${new Date(cachedAt).toLocaleString()}.`) : null,
      h("p", {},
        h("strong", {}, `${t.stops} stops`),
        ` · leave ${fmtTime(plan.departure)} · back ${fmtTime(plan.returnLeg.arrival)} · drive ${fmtDuration(t.driveSeconds)} (${fmtKm(t.distanceM)}) · windshield ${fmtPercent(t.windshieldRatio)}`),
      plan.notes?.length
        ? h("details", { class: "small muted" }, h("summary", {}, `${plan.notes.length} planning notes`), h("ul", {}, plan.notes.map((n) => h("li", {}, n))))
        : null);
    render(list, plan.stops.length ? plan.stops.map(stopItem) : h("li", {}, h("div", { class: "row muted" }, "No visits planned today.")));
    if (!performance.getEntriesByName(PAINT_MARK).length) {
      performance.mark(PAINT_MARK, { detail: { source, stops: plan.stops.length } });
    }
    listShown();
    render(dropped, plan.dropped?.length
      ? h("details", { class: "card small" }, h("summary", {}, `${plan.dropped.length} accounts not in today's route`),
        h("ul", {}, plan.dropped.slice(0, 20).map((d) => h("li", {}, `${d.name}: ${d.reason}`))))
      : null);
    drawPlan(plan);
    keepSnapshot();
  }

  load("myDay", { date: today() }, (data, { cachedAt, source }) => paintPlan(data.myDay, cachedAt, source))
    .catch((err) => {
      replan.hidden = true;
      if (err instanceof NotAvailable) render(summary, unavailable("Today's route", err.message));
      else if (err instanceof OfflineError) render(summary, h("p", { class: "notice" }, "Offline, and today's plan was not saved on this device yet."));
      else render(summary, errorBlock(err));
    })
    .finally(() => {
      showScreen();
      listShown();
      drawTerritory();
    });

  replan.addEventListener("click", async () => {
    replan.disabled = true;
    try {
      const pos = await currentPosition();
      if (!pos) {
        toast("Your position is not available: allow location access to re-plan.");
        return;
      }
      const { data } = await send("replanMyDay", { position: { lat: pos.lat, lon: pos.lon }, at: localIso() });
      paintPlan(data.replanMyDay, null);
      toast("Route re-planned from your position.");
      // The offline copy of today's plan is the re-planned one from now on.
      send("myDay", { date: today() }).catch(() => undefined);
    } catch (err) {
      toast(err instanceof OfflineError ? "Re-planning needs a connection." : err.message);
    } finally {
      replan.disabled = false;
    }
  });

  return () => mapReady.then((m) => removeMap(m.map)).catch(() => undefined);
}
