"""Assemble bench/RESULTS.md from the per-benchmark files in bench/results/ (each script writes
its own file, so benchmarks can run separately without clobbering each other)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    "network",
    "vrp",
    "dayplan",
    "territories",
    "accounts",
    "notifications",
    "notify_ws",
    "notify_ws_relay_process",
    "first_paint",
    "load",
    "load_shared_pool",
]


def main() -> None:
    parts = [(HERE / "SUMMARY.md").read_text().rstrip() + "\n"]
    files = {p.stem: p for p in (HERE / "results").glob("*.md")}
    for name in ORDER + sorted(set(files) - set(ORDER)):
        if name in files:
            parts.append(files[name].read_text().rstrip() + "\n")
    (HERE / "RESULTS.md").write_text("\n".join(parts))
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
