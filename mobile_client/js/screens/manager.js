// Manager: territories map coloured by territory, what-if comparison of two alignments (KPIs
// and the accounts that move), commit, coverage and windshield-time charts per rep, and who
// has acknowledged a realignment.

import { load, NotAvailable, OfflineError, send } from "../api.js";
import { barChart } from "../charts.js";
import { createMap, drawOutlines, PALETTE, removeMap } from "../map.js";
import { errorBlock, fmtPercent, h, render, today, toast, unavailable } from "../ui.js";

function explain(err, what) {
  if (err instanceof NotAvailable) return unavailable(what, err.message);
  if (err instanceof OfflineError) return h("p", { class: "notice" }, `${what}: offline, and not saved on this device yet.`);
  return errorBlock(err);
}

/** The local date `days` before today, YYYY-MM-DD (same calendar as `today()`). */
function isoDaysAgo(days) {
  const d = new Date();
  d.setDate(d.getDate() - days);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Flatten a KPI JSON object into [key, value] rows of numbers and short strings. */
function flatten(obj, prefix = "", out = new Map()) {
  for (const [k, v] of Object.entries(obj || {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v)) flatten(v, key, out);
    else if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") out.set(key, v);
  }
  return out;
}

function fmtValue(v) {
  if (typeof v !== "number") return v === undefined ? "–" : String(v);
  return Math.abs(v) >= 100 ? Math.round(v).toLocaleString() : v.toFixed(2);
}

function kpiTable(kpisA, kpisB, nameA, nameB) {
  const a = flatten(kpisA);
  const b = flatten(kpisB);
  const keys = [...new Set([...a.keys(), ...b.keys()])].slice(0, 40);
  if (!keys.length) return h("p", { class: "muted" }, "Neither alignment has KPIs stored.");
  return h("div", { class: "scroll-x", role: "region", tabindex: "0", "aria-label": "KPI comparison" },
    h("p", { class: "small muted" }, `A: ${nameA} · B: ${nameB}`),
    h("table", { id: "kpi-table" },
      h("caption", { class: "visually-hidden" }, `KPIs of A (${nameA}) and B (${nameB})`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "KPI"), h("th", { scope: "col", class: "num" }, "A"), h("th", { scope: "col", class: "num" }, "B"))),
      h("tbody", {}, keys.map((k) => h("tr", {}, h("th", { scope: "row" }, k.replaceAll("_", " ")), h("td", { class: "num" }, fmtValue(a.get(k))), h("td", { class: "num" }, fmtValue(b.get(k))))))));
}

/**
 * Windshield time per rep over the weeks: the tracked figures when the rep recorded driving
 * (breadcrumbs; visits alone say nothing about driving), else the planned ones. Mixing the two
 * (planned driving over tracked visits) would overstate the ratio.
 */
export function windshieldRows(weeks) {
  const byRep = new Map();
  for (const w of weeks) {
    const e = byRep.get(w.repId) || { label: w.repName, drive: 0, visit: 0, plannedDrive: 0, plannedVisit: 0 };
    e.drive += w.actualDriveSeconds;
    e.visit += w.actualVisitSeconds;
    e.plannedDrive += w.plannedDriveSeconds;
    e.plannedVisit += w.plannedVisitSeconds;
    byRep.set(w.repId, e);
  }
  return [...byRep.values()].map((e) => {
    const tracked = e.drive > 0;
    const drive = tracked ? e.drive : e.plannedDrive;
    const total = drive + (tracked ? e.visit : e.plannedVisit);
    if (total <= 0) return { label: e.label, value: 0, text: "no data" };
    const ratio = drive / total;
    return { label: e.label, value: ratio, text: `${fmtPercent(ratio)} ${tracked ? "tracked" : "planned"}` };
  });
}

/** A legend colour. Set through the style object: a style attribute is refused by the CSP. */
function swatch(color) {
  const el = h("span", { class: "swatch", "aria-hidden": "true" });
  el.style.background = color;
  return el;
}

export function show(view) {
  const mapEl = h("div", { id: "territory-map", class: "map" });
  const legend = h("ul", { class: "legend", "aria-label": "Territories" });
  const alignmentSel = h("select", { id: "map-alignment" });
  const selA = h("select", { id: "compare-a" });
  const selB = h("select", { id: "compare-b" });
  const compareBtn = h("button", { type: "button" }, "Compare");
  const proposeBtn = h("button", { type: "button", class: "secondary" }, "New what-if");
  const commitBtn = h("button", { type: "button", id: "commit-b", hidden: true }, "Commit B (effective today)");
  const compareOut = h("div", { id: "compare-result" });
  const coverageOut = h("div", { id: "coverage" }, h("p", { class: "muted" }, "Loading…"));
  const windshieldOut = h("div", { id: "windshield" }, h("p", { class: "muted" }, "Loading…"));
  const acksOut = h("div", { id: "acknowledgements" });
  const mapReady = createMap(mapEl, { label: "Map of territories" });
  let outlineLayers = [];
  let alignments = [];
  let reps = new Map();
  let teamId = null;

  render(view,
    h("h2", {}, "Territories"),
    h("div", { class: "toolbar" }, h("div", { class: "grow" }, h("label", { for: "map-alignment" }, "Alignment on the map"), alignmentSel)),
    mapEl, legend,
    h("section", { "aria-labelledby": "whatif-title" },
      h("h3", { id: "whatif-title" }, "What-if comparison"),
      h("div", { class: "toolbar" },
        h("div", { class: "grow" }, h("label", { for: "compare-a" }, "A"), selA),
        h("div", { class: "grow" }, h("label", { for: "compare-b" }, "B"), selB)),
      h("div", { class: "actions" }, compareBtn, proposeBtn, commitBtn),
      compareOut),
    h("section", { "aria-labelledby": "ack-title" }, h("h3", { id: "ack-title" }, "Acknowledged by reps"), acksOut),
    h("section", { "aria-labelledby": "coverage-title" }, h("h3", { id: "coverage-title" }, "Coverage per rep (last 30 days)"), coverageOut),
    h("section", { "aria-labelledby": "windshield-title" }, h("h3", { id: "windshield-title" }, "Windshield time per rep (last 4 weeks)"), windshieldOut));

  async function drawAlignment(alignmentId) {
    const m = await mapReady;
    try {
      await load("territoryOutlines", alignmentId ? { alignmentId } : {}, (data) => {
        if (!m.alive()) return;
        outlineLayers.forEach((l) => l.remove());
        const outlines = data.territoryOutlines;
        outlineLayers = drawOutlines(m.L, m.map, outlines, { fill: 0.25 });
        render(legend, outlines.map((o, i) => h("li", {}, swatch(PALETTE[i % PALETTE.length]), `${o.repName || o.name} (${o.accountCount})`)));
        mapEl.dataset.territories = String(outlineLayers.length);
        if (outlineLayers.length) {
          const bounds = outlineLayers.reduce((b, l) => b.extend(l.getBounds()), outlineLayers[0].getBounds());
          m.map.fitBounds(bounds, { padding: [12, 12] });
        }
      });
    } catch (err) {
      render(legend, h("li", {}, explain(err, "Territory outlines")));
    }
  }

  function fillAlignmentSelects() {
    const options = (sel, selected) => render(sel, alignments.map((a) =>
      h("option", { value: a.id, selected: a.id === selected }, `${a.name} (${a.state.toLowerCase()})`)));
    const active = alignments.find((a) => a.state === "ACTIVE");
    const draft = alignments.find((a) => a.state === "DRAFT");
    options(alignmentSel, active?.id);
    options(selA, active?.id);
    options(selB, (draft || active)?.id);
    updateCommit();
  }

  function updateCommit() {
    const b = alignments.find((a) => a.id === selB.value);
    commitBtn.hidden = !b || b.state !== "DRAFT";
  }

  async function loadAlignments() {
    try {
      await load("alignments", teamId ? { teamId } : {}, (data) => {
        alignments = data.alignments;
        fillAlignmentSelects();
      });
    } catch (err) {
      render(compareOut, explain(err, "Alignments"));
      compareBtn.disabled = proposeBtn.disabled = true;
    }
  }

  compareBtn.addEventListener("click", async () => {
    if (!selA.value || !selB.value) return;
    render(compareOut, h("p", { class: "muted" }, "Comparing…"));
    try {
      await load("compareAlignments", { a: selA.value, b: selB.value }, (data) => {
        const c = data.compareAlignments;
        const repName = (id) => (id ? reps.get(id) || `rep ${id}` : "unassigned");
        render(compareOut,
          kpiTable(c.kpisA, c.kpisB, c.a.name, c.b.name),
          h("h4", {}, `${c.moves.length} accounts move`),
          c.moves.length
            ? h("table", { id: "moves-table" },
              h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Account"), h("th", { scope: "col" }, "From"), h("th", { scope: "col" }, "To"))),
              h("tbody", {}, c.moves.map((mv) => h("tr", {}, h("td", {}, mv.accountName), h("td", {}, repName(mv.fromRepId)), h("td", {}, repName(mv.toRepId))))))
            : h("p", { class: "muted" }, "No account changes hands."));
      });
    } catch (err) {
      render(compareOut, explain(err, "Comparison"));
    }
  });

  proposeBtn.addEventListener("click", async () => {
    if (!teamId) return;
    proposeBtn.disabled = true;
    try {
      let { data } = await send("proposeAlignment", { params: { teamId, name: `What-if ${new Date().toLocaleString()}` } });
      let job = data.proposeAlignment;
      toast("What-if started…");
      for (let i = 0; i < 120 && !["done", "failed"].includes(job.state); i++) {
        await new Promise((r) => setTimeout(r, 1000));
        ({ data } = await send("job", { id: job.id }));
        job = data.job;
      }
      toast(job.state === "done" ? "What-if ready." : `What-if ${job.state}: ${job.message || ""}`);
      await loadAlignments();
    } catch (err) {
      toast(err.message);
    } finally {
      proposeBtn.disabled = false;
    }
  });

  commitBtn.addEventListener("click", async () => {
    const b = alignments.find((a) => a.id === selB.value);
    if (!b || !window.confirm(`Commit "${b.name}"? Reps are told about their changes.`)) return;
    commitBtn.disabled = true;
    try {
      await send("commitAlignment", { id: b.id, effectiveDate: today() });
      toast(`"${b.name}" committed.`);
      await loadAlignments();
      await drawAlignment(alignmentSel.value);
      await acknowledgements();
    } catch (err) {
      toast(err.message);
    } finally {
      commitBtn.disabled = false;
    }
  });

  selB.addEventListener("change", updateCommit);
  alignmentSel.addEventListener("change", () => drawAlignment(alignmentSel.value));

  async function charts() {
    if (!teamId) return;
    try {
      await load("coverage", { teamId, from: isoDaysAgo(30), to: today() }, (data) => {
        const rows = data.coverage.byRep.map((r) => ({ label: r.label, value: r.share ?? 0, text: `${fmtPercent(r.share)} (${r.covered}/${r.accounts})` }));
        render(coverageOut, rows.length ? barChart(rows, { title: "Coverage per rep" }) : h("p", { class: "muted" }, "No data."),
          h("p", { class: "small muted" }, `Team: ${fmtPercent(data.coverage.total.share)} of accounts visited within their cadence.`));
      });
    } catch (err) {
      render(coverageOut, explain(err, "Coverage"));
    }
    try {
      await load("windshield", { teamId, from: isoDaysAgo(28), to: today() }, (data) => {
        const rows = windshieldRows(data.windshield.weeks);
        render(windshieldOut, rows.length ? barChart(rows, { title: "Windshield time per rep", color: "#c2410c" }) : h("p", { class: "muted" }, "No day plans or visits yet."),
          h("p", { class: "small muted" }, "Share of working time spent driving: drive ÷ (drive + visits), tracked (breadcrumbs and visits) where reps recorded their driving, else as planned."));
      });
    } catch (err) {
      render(windshieldOut, explain(err, "Windshield time"));
    }
  }

  async function acknowledgements() {
    const active = alignments.find((a) => a.state === "ACTIVE");
    if (!active) {
      render(acksOut, h("p", { class: "muted" }, "No active alignment."));
      return;
    }
    try {
      await load("acknowledgements", { alignmentId: active.id }, (data) => {
        const rows = Object.values(data)[0] || [];
        if (!rows.length) {
          render(acksOut, h("p", { class: "muted" }, `No rep has been told about "${active.name}" yet.`));
          return;
        }
        render(acksOut, h("p", { class: "small muted" }, `For "${active.name}":`),
          h("ul", { class: "list", id: "ack-list" }, rows.map((r) => h("li", {}, h("div", { class: "row" },
            `${r.fullName || r.repId}: `,
            r.acknowledgedAt ? h("span", { class: "pill ok" }, "acknowledged")
              : h("span", { class: "pill warn" }, r.notifiedAt ? "told, not yet acknowledged" : "not told"))))));
      });
    } catch (err) {
      render(acksOut, explain(err, "Acknowledgements"));
    }
  }

  (async () => {
    try {
      const { data } = await send("me", {});
      teamId = data.me.teamId;
      const team = await send("teamReps", teamId ? { teamId } : {});
      teamId = teamId || team.data.teams[0]?.id || null;
      reps = new Map(team.data.reps.map((r) => [r.id, r.fullName]));
    } catch {
      /* offline: the cached parts below still render */
    }
    await drawAlignment(null);
    await loadAlignments();
    await Promise.all([charts(), acknowledgements()]);
  })();

  return () => mapReady.then((m) => removeMap(m.map)).catch(() => undefined);
}
