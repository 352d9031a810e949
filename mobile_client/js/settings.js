// Device settings kept in localStorage. The map's tile URL may also come from ?tiles=<url>
// (use ?tiles=none to go back to drawing roads from the API).

const TILES_KEY = "fieldrep.tiles";

export function tilesUrl() {
  const param = new URLSearchParams(location.search).get("tiles");
  if (param !== null) setTilesUrl(param === "none" ? "" : param);
  return localStorage.getItem(TILES_KEY) || "";
}

export function setTilesUrl(url) {
  if (url) localStorage.setItem(TILES_KEY, url);
  else localStorage.removeItem(TILES_KEY);
}

export const EXAMPLE_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
