// Which GraphQL document each feature sends. Every operation comes from
// /operations/<file>.graphql (the server's allowlist); nothing else is ever sent.
//
// Each key lists candidates in order of preference: [file, operationName]; the first one the
// server publishes is used. Feature teams' documents (accounts.graphql, visits.graphql, ...) are
// reused where their selection has what the screen reads; the app's own documents
// (app_*.graphql) cover the rest. A candidate that is not published yet is skipped, and a key
// with none shows "not available yet". To plug in a new document, put its [file, name] first.

export const OPERATIONS = {
  me: [["app_core", "AppMe"]],
  myTerritory: [["app_core", "AppMyTerritory"]],
  accounts: [["accounts", "MyAccounts"]],
  account: [["accounts", "Account"]],
  roadNetwork: [["app_map", "AppRoadNetwork"]],
  territoryOutlines: [["app_map", "AppTerritoryOutlines"]],
  myDay: [["app_day", "AppMyDay"], ["dayplan", "MyDay"]],
  replanMyDay: [["app_day", "AppReplanMyDay"], ["dayplan", "ReplanMyDay"]],
  checkIn: [["visits", "CheckIn"]],
  checkOut: [["visits", "CheckOut"]],
  inbox: [["app_notifications", "AppInbox"], ["notifications", "Inbox"]],
  markRead: [["app_notifications", "AppMarkRead"], ["notifications", "MarkNotificationRead"]],
  acknowledgeTerritoryChange: [
    ["app_notifications", "AppAcknowledgeTerritoryChange"],
    ["notifications", "AcknowledgeTerritoryChange"],
  ],
  liveNotifications: [["app_notifications", "AppLiveNotifications"], ["notifications", "Notifications"]],
  teamReps: [["app_core", "AppTeamReps"]],
  alignments: [["app_manager", "AppAlignments"], ["territories", "Alignments"]],
  compareAlignments: [["app_manager", "AppCompareAlignments"], ["territories", "CompareAlignments"]],
  commitAlignment: [["app_manager", "AppCommitAlignment"], ["territories", "CommitAlignment"]],
  acknowledgements: [["app_manager", "AppAcknowledgements"], ["territories", "Acknowledgements"]],
  proposeAlignment: [["app_manager", "AppProposeAlignment"], ["territories", "ProposeAlignment"]],
  job: [["app_manager", "AppJob"], ["territories", "Job"]],
  vapidPublicKey: [["app_push", "AppVapidPublicKey"]],
  registerPushSubscription: [["app_push", "AppRegisterPush"]],
  unregisterPushSubscription: [["app_push", "AppUnregisterPush"]],
  coverage: [["visits", "Coverage"], ["analytics", "Coverage"]],
  windshield: [["visits", "Windshield"], ["analytics", "Windshield"]],
};

/** Every document file the app may load (the service worker caches them for offline use). */
export const DOCUMENT_FILES = [...new Set(Object.values(OPERATIONS).flat().map(([file]) => file))];
