"""The VAPID key in the data folder: one key for every process that starts on it together."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PRINT_KEY = """
import pathlib, sys, time, types
from backend.messaging.wiring import vapid_keys
from backend.settings import Settings
settings = Settings(data_dir=sys.argv[1], secret_key="k" * 40)
if len(sys.argv) > 2:  # line up with the others: all imported, then all at once
    gate = pathlib.Path(sys.argv[2])
    (gate.parent / f"ready-{sys.argv[3]}").touch()
    while not gate.exists():
        time.sleep(0.001)
print(vapid_keys(types.SimpleNamespace(settings=settings)).application_server_key)
"""


def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    """API workers and `fieldrep relay` start at once on a fresh data folder: all of them
    must end up with the same key (the one in the file), or pushes signed by the relay would
    not match the key browsers subscribed with."""
    data = tmp_path / "data"
    gate = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _PRINT_KEY, str(data), str(gate), str(i)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < len(procs) and time.monotonic() < deadline:
        time.sleep(0.01)
    gate.touch()
    keys = set()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        keys.add(out.strip())
    assert len(keys) == 1, keys
    key_file = data / "vapid-private.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in data.iterdir()] == ["vapid-private.pem"]  # no temporary left
    again = subprocess.run(
        [sys.executable, "-c", _PRINT_KEY, str(data)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert again.stdout.strip() in keys  # restarts keep it
