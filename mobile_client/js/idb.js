// A tiny promise wrapper over IndexedDB: one database, two stores.
//   outbox: mutations waiting to be sent (keyPath clientId)
//   visits: this device's check-ins and their sync state (keyPath clientId)

const DB_NAME = "fieldrep";
const DB_VERSION = 1;
let dbPromise = null;

function open() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains("outbox")) db.createObjectStore("outbox", { keyPath: "clientId" });
        if (!db.objectStoreNames.contains("visits")) db.createObjectStore("visits", { keyPath: "clientId" });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}

function done(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function store(name, mode = "readonly") {
  const db = await open();
  return db.transaction(name, mode).objectStore(name);
}

export async function all(name) {
  return done((await store(name)).getAll());
}
export async function get(name, key) {
  return done((await store(name)).get(key));
}
export async function put(name, value) {
  return done((await store(name, "readwrite")).put(value));
}
export async function remove(name, key) {
  return done((await store(name, "readwrite")).delete(key));
}
export async function clear(name) {
  return done((await store(name, "readwrite")).clear());
}
