// Sync: everything this phone has not delivered yet, with the server's reason for what it
// refused and "Retry" / "Discard" (js/outbox.js keeps sending the rest meanwhile).

import * as outbox from "../outbox.js";
import { entryActions, entryState, entryTitle } from "../outbox_view.js";
import { fmtDate, fmtTime, h, render } from "../ui.js";

function item(entry) {
  const at = entry.input?.at || new Date(entry.createdAt).toISOString();
  return h("li", { dataset: { outbox: entry.clientId, state: entry.state } },
    h("div", { class: "row" },
      h("div", { class: "row-head" },
        entry.accountId
          ? h("a", { class: "name", href: `#/account/${encodeURIComponent(entry.accountId)}` }, entryTitle(entry))
          : h("span", { class: "name" }, entryTitle(entry)),
        h("span", { class: "small muted" }, `${fmtDate(at)} ${fmtTime(at)}`)),
      entryState(entry),
      entryActions(entry)));
}

export function show(view) {
  const list = h("ul", { class: "list", id: "outbox-list", "aria-label": "Waiting to sync" });
  const status = h("p", { class: "small muted", role: "status" });
  render(view, h("h2", {}, "Sync"), status, list);
  async function paint() {
    const entries = await outbox.entries();
    const failed = entries.filter((e) => e.state === "failed").length;
    status.textContent = entries.length
      ? `${entries.length} waiting${failed ? `, ${failed} not accepted by the server` : ""}.`
      : "Everything on this phone has reached the server.";
    render(list, entries.map(item));
  }
  paint();
  return outbox.onChange(() => paint());
}
