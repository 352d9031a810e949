// Settings: notifications on this phone (Web Push), map tiles (default: no tiles, roads drawn
// from the API), account.

import { OfflineError } from "../api.js";
import { session } from "../auth.js";
import { currentSubscription, disablePush, enablePush, permission, pushSupported } from "../push.js";
import { EXAMPLE_TILES, setTilesUrl, tilesUrl } from "../settings.js";
import { h, render, toast } from "../ui.js";

/** The "Notifications on this phone" switch: permission, subscribe, register; and back. */
function pushCard() {
  const toggle = h("input", { id: "push-toggle", type: "checkbox", role: "switch", "aria-describedby": "push-status", disabled: true });
  const status = h("p", { id: "push-status", class: "small muted", role: "status" }, "Checking…");
  const card = h("div", { class: "card", id: "push-card" },
    h("h3", {}, "Notifications"),
    h("label", { class: "checkbox switch", for: "push-toggle" }, toggle, "Notifications on this phone"),
    status);

  const say = (text) => { status.textContent = text; };
  async function refresh() {
    if (!pushSupported()) {
      toggle.disabled = true;
      say("This browser cannot receive push notifications; the inbox still updates while the app is open.");
      return;
    }
    const subscription = await currentSubscription();
    toggle.checked = Boolean(subscription) && permission() === "granted";
    toggle.disabled = permission() === "denied";
    card.dataset.state = toggle.checked ? "on" : "off";
    delete card.dataset.error;
    if (permission() === "denied") say("Notifications are blocked for this app: allow them in the browser's site settings.");
    else if (toggle.checked) say("On: territory changes and plan updates reach this phone even when the app is closed.");
    else say("Off: you see new notices only while the app is open.");
  }

  toggle.addEventListener("change", async () => {
    const on = toggle.checked;
    toggle.disabled = true;
    say(on ? "Turning on…" : "Turning off…");
    try {
      if (on) await enablePush();
      else await disablePush();
      toast(on ? "Notifications on for this phone." : "Notifications off for this phone.");
    } catch (err) {
      const why = err instanceof OfflineError ? "this needs a connection." : err.message;
      await refresh();
      say(`Could not turn notifications ${on ? "on" : "off"}: ${why}`);
      card.dataset.error = why;
      return;
    }
    await refresh();
  });
  refresh();
  return card;
}

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
    pushCard(),
    form,
    h("p", { class: "small muted" }, "Map data © OpenStreetMap contributors (ODbL). Map library: Leaflet (BSD-2-Clause)."));
}
