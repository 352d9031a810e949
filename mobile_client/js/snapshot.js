// First paint of "my day" before any module loads: the stop list as this phone last showed it
// (js/screens/day.js keeps it), for the same user and day; the screen takes over when it has
// read the stored plan. A classic script (not a module) so it runs as the page is parsed, and a
// file rather than inline so the Content-Security-Policy can refuse every inline script.
//
// The snapshot is this app's own DOM, serialized (names are escaped text). It is still parsed
// in an inert <template> and stripped of anything active (scripts, frames, on* handlers,
// javascript: links) before it is shown: storage is not trusted to run code.
(() => {
  const ACTIVE = "script, iframe, object, embed, frame, frameset, base, meta, link, style, form, svg, math";
  function clean(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const root = template.content;
    root.querySelectorAll(ACTIVE).forEach((el) => el.remove());
    for (const el of root.querySelectorAll("*")) {
      for (const attr of [...el.attributes]) {
        const value = attr.value.trim().toLowerCase();
        if (attr.name.startsWith("on") || attr.name === "style" || attr.name === "srcdoc"
          || (["href", "src", "action", "formaction", "xlink:href"].includes(attr.name) && !/^(#|https?:|geo:)/.test(value))) {
          el.removeAttribute(attr.name);
        }
      }
    }
    return root;
  }
  try {
    const s = JSON.parse(localStorage.getItem("fieldrep.session") || "null");
    const snap = JSON.parse(localStorage.getItem("fieldrep.myDaySnapshot") || "null");
    const d = new Date();
    const pad = (n) => String(n).padStart(2, "0");
    const today = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    if (!s || s.expiresAt <= Date.now() || s.role !== "rep" || !snap || typeof snap.html !== "string") return;
    if (snap.user !== s.email || snap.date !== today || !/^(#\/?(day)?)?$/.test(location.hash)) return;
    const view = document.getElementById("view");
    view.replaceChildren(clean(snap.html));
    view.dataset.snapshot = "day";
    performance.mark("fieldrep:my-day-snapshot");
  } catch {
    /* no snapshot: the screen paints from the stored plan */
  }
})();
