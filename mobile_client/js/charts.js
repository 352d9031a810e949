// Accessible SVG bar charts (no library): each bar has a text label and its value as text.

const NS = "http://www.w3.org/2000/svg";

function el(tag, attrs, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Horizontal bars. rows: [{label, value, text}], value in 0..max.
 * Returns an <svg role="img"> with a title naming every bar.
 */
export function barChart(rows, { title, max = 1, color = "#0b5cad", width = 360 } = {}) {
  const rowH = 26;
  const labelW = 120;
  const height = rows.length * rowH + 8;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img" });
  svg.append(el("title", {}, `${title}: ${rows.map((r) => `${r.label} ${r.text}`).join(", ")}`));
  rows.forEach((r, i) => {
    const y = 4 + i * rowH;
    const barW = Math.max(0, Math.min(1, (r.value ?? 0) / max)) * (width - labelW - 60);
    svg.append(el("text", { x: 0, y: y + 16 }, r.label.length > 16 ? `${r.label.slice(0, 15)}…` : r.label));
    svg.append(el("rect", { x: labelW, y: y + 3, width: barW, height: rowH - 8, fill: color, rx: 3 }));
    svg.append(el("text", { x: labelW + barW + 6, y: y + 16 }, r.text));
  });
  return svg;
}
