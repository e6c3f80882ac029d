"""First start of ``make run``: seconds until the console is usable and the platform lives.

Runs ``quantgrid up`` as ``make run`` does (embedded defaults, a new SQLite file in a
temporary folder, paper trading at the default speed) on a free loopback port, and
times from the process start:

- ``s_to_health``: ``GET /health`` answers 200;
- ``s_to_console``: the console's page and its scripts are served and the demo user's
  login (the password the process prints) returns a token: a person can log in;
- ``s_to_first_fill``: the first fill of a demo strategy is in ``/api/execution/fills``;
- ``s_to_ml_strategy``: the demo ML strategy runs (its model trained and approved).

The issue's target: a usable console in under 60 seconds on a fresh checkout once the
dependencies are installed. Every wait is bounded by ``--time-limit`` seconds; the
process this script started is stopped at the end. Human lines, then one JSON line.

    .venv/bin/python benchmarks/first_start.py [--time-limit 120]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(what: str, check: Callable[[], bool], deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"gave up waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds, at most")
    args = parser.parse_args()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="quantgrid-first-start-") as tmp:
        log = Path(tmp) / "up.log"
        env = {**os.environ, "QUANTGRID_LOG_LEVEL": "WARNING"}
        exe = Path(sys.executable).with_name("quantgrid")
        command = [str(exe), "up", "--port", str(port), "--database-url"]
        command.append(f"sqlite:///{Path(tmp) / 'quantgrid.db'}")
        start = time.monotonic()
        deadline = start + args.time_limit
        with log.open("w") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            client = httpx.Client(base_url=base, timeout=5.0)
            _wait("/health", lambda: client.get("/health").status_code == 200, deadline)
            figures["s_to_health"] = round(time.monotonic() - start, 2)

            def console_up() -> bool:
                page = client.get("/console/")
                if page.status_code != 200:
                    return False
                scripts = re.findall(r'src="([^"]+\.js[^"]*)"', page.text)
                urls = [urljoin(f"{base}/console/", src) for src in scripts]
                return bool(urls) and all(client.get(url).status_code == 200 for url in urls)

            _wait("the console", console_up, deadline)
            found = re.search(r"password: (\S+)", log.read_text())
            if found is None:
                raise SystemExit("the demo password was not printed")
            login = client.post(
                "/auth/login", json={"username": "demo", "password": found.group(1)}
            )
            login.raise_for_status()
            figures["s_to_console"] = round(time.monotonic() - start, 2)
            auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

            def filled() -> bool:
                fills = client.get("/api/execution/fills", params={"limit": 1}, headers=auth)
                return fills.status_code == 200 and bool(fills.json()["items"])

            _wait("a fill", filled, deadline)
            figures["s_to_first_fill"] = round(time.monotonic() - start, 2)

            def ml_runs() -> bool:
                configs = client.get("/api/strategy/strategy-configs", headers=auth).json()
                return any(c["config_id"] == "demo-ml" and c["running"] for c in configs["items"])

            _wait("the demo ML strategy", ml_runs, deadline)
            figures["s_to_ml_strategy"] = round(time.monotonic() - start, 2)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    for name, value in figures.items():
        print(f"{name.removeprefix('s_to_').replace('_', ' '):>14}: {value:6.2f} s")
    met = figures["s_to_console"] < 60
    print(f"usable console in under 60 s: {'yes' if met else 'NO'}")
    print(json.dumps({**figures, "target_s": 60, "met": met}))


if __name__ == "__main__":
    main()
