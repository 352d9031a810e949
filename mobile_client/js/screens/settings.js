// Settings: map tiles (default: no tiles, roads drawn from the API), account, app version.

import { session } from "../auth.js";
import { EXAMPLE_TILES, setTilesUrl, tilesUrl } from "../settings.js";
import { h, render, toast } from "../ui.js";

export function show(view) {
  const s = session();
  const input = h("input", { id: "tiles-url", type: "url", value: tilesUrl(), placeholder: EXAMPLE_TILES, "aria-describedby": "tiles-help" });
  const form = h("form", { class: "card", "aria-labelledby": "tiles-title" },
    h("h3", { id: "tiles-title" }, "Map tiles"),
    h("div", { class: "field" },
      h("label", { for: "tiles-url" }, "Tile URL template"),
      input,
      h("p", { id: "tiles-help", class: "small muted" },
        "Leave empty to draw the road network from the fieldrep server (works offline). ",
        "Example: ", EXAMPLE_TILES, ". You can also open the app with ?tiles=<url> or ?tiles=none.")),
    h("button", { type: "submit" }, "Save"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    setTilesUrl(input.value.trim());
    toast(input.value.trim() ? "Map tiles saved." : "Map draws roads from the server.");
  });
  render(view,
    h("h2", {}, "Settings"),
    h("div", { class: "card" }, h("p", {}, "Logged in as ", h("strong", {}, s?.email || "–"), ` (${s?.role || "–"})`)),
    form,
    h("p", { class: "small muted" }, "Map data © OpenStreetMap contributors (ODbL). Map library: Leaflet (BSD-2-Clause)."));
}
