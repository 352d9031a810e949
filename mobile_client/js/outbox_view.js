// What the rep sees of an outbox entry the server refused or keeps failing: the server's reason
// (as text) and "Retry" / "Discard". Used by the sync screen and by the account's visit list.

import * as outbox from "./outbox.js";
import { fmtTime, h, toast } from "./ui.js";

const KIND = { checkIn: "Check-in", checkOut: "Check-out" };

/** "Check-in at <account>" (the account name is the server's text: rendered as text). */
export function entryTitle(entry) {
  return `${KIND[entry.kind] || entry.kind}${entry.accountName ? ` at ${entry.accountName}` : ""}`;
}

/** One line on the entry's state: refused (why), retrying (when, why), held or waiting. */
export function entryState(entry) {
  if (entry.state === "failed") {
    return h("p", { class: "error small outbox-reason", role: "alert" },
      `Not accepted: ${entry.lastError || "refused by the server"}`, entry.field ? ` (${entry.field})` : "");
  }
  if (entry.state === "retrying") {
    return h("p", { class: "small outbox-reason" },
      `Retrying at ${fmtTime(new Date(entry.retryAt).toISOString())}: ${entry.lastError || "the server did not answer"}`);
  }
  if (entry.state === "held") return h("p", { class: "small muted" }, "Waits for its check-in to sync.");
  return h("p", { class: "small muted" }, "Waiting to sync.");
}

/** "Retry" and "Discard" for a failed or retrying entry; null for the others. */
export function entryActions(entry) {
  if (entry.state !== "failed" && entry.state !== "retrying") return null;
  const title = entryTitle(entry);
  const retry = h("button", { type: "button", class: "secondary", "aria-label": `Retry ${title}`, dataset: { action: "retry" } }, "Retry");
  const discard = h("button", { type: "button", class: "secondary", "aria-label": `Discard ${title}`, dataset: { action: "discard" } }, "Discard");
  retry.addEventListener("click", async () => {
    retry.disabled = discard.disabled = true;
    try {
      await outbox.retry(entry.clientId);
    } finally {
      retry.disabled = discard.disabled = false;
    }
  });
  discard.addEventListener("click", async () => {
    const what = entry.kind === "checkIn" ? "This check-in (and its check-out) will not reach the server." : "This check-out will not reach the server; the visit is open again.";
    if (!window.confirm(`Discard ${title}? ${what}`)) return;
    await outbox.discard(entry.clientId);
    toast(`${title} discarded.`);
  });
  return h("div", { class: "actions" }, retry, discard);
}
