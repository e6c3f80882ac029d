"""Service processes of the distributed mode on loopback, started and stopped by a test.

Each process is ``quantgrid serve NAME --port P`` with the environment a deployment
gives it (``docs/deploy.md``). Its standard output and error go to a file that
restarts append to, so a failure can show what every run of the process logged.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx

#: What the `quantgrid` console script runs; the interpreter is the test's own (.venv).
CLI = "from quantgrid.cli import main; main()"
#: The trader the tests log in as (created in the store before the services start).
TRADER = "e2e-trader"
TRADER_PASSWORD = "e2e password, long enough"
#: Longest a process may take to answer ``/health`` after it is started.
STARTUP_TIMEOUT_S = 30.0
LOG_TAIL_CHARS = 6_000
HEALTH_POLL_S = 0.1


def free_port() -> int:
    """Return a loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def service_env(overrides: dict[str, str]) -> dict[str, str]:
    """Return this process's environment without its ``QUANTGRID_*`` variables, plus
    ``overrides``: a developer's own settings must not leak into the services."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("QUANTGRID_")}
    return inherited | overrides


@dataclass(slots=True)
class ServiceProcess:
    """One ``quantgrid serve NAME`` process on ``127.0.0.1:port``; restartable."""

    name: str
    port: int
    env: dict[str, str]
    workdir: Path
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Return the base URL the other processes reach it at."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """Return the file its standard output and error go to, across restarts."""
        return self.workdir / f"{self.name}.log"

    @property
    def running(self) -> bool:
        """Tell whether the process was started and has not exited."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the process (again, after ``kill`` or ``stop``)."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        command = [sys.executable, "-c", CLI, "serve", self.name]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            log.write(f"--- started: {' '.join(command[3:])}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                command,
                env=self.env,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def wait_healthy(self, timeout_s: float) -> None:
        """Wait until ``/health`` answers 200, at most ``timeout_s``.

        Raises
        ------
        AssertionError
            The process exited, or did not answer in time; with its log.
        """
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(base_url=self.url, timeout=1.0) as client:
            while True:
                if not self.running:
                    raise AssertionError(f"{self.name} exited before it was healthy\n{self.log()}")
                try:
                    if (await client.get("/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                if time.monotonic() > deadline:
                    message = f"{self.name} was not healthy within {timeout_s:g} s\n{self.log()}"
                    raise AssertionError(message)
                await anyio.sleep(HEALTH_POLL_S)

    def kill(self) -> None:
        """SIGKILL the process (no shutdown of any kind) and reap it."""
        process = self._require_started()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the process if it runs; kill it if it has not exited in time."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def log(self) -> str:
        """Return the end of what the process logged, headed by its name."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        if len(text) > LOG_TAIL_CHARS:
            text = "..." + text[-LOG_TAIL_CHARS:]
        return f"=== {self.name} ({self.log_path.name}) ===\n{text}"

    def _require_started(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._process


@dataclass(slots=True)
class Deployment:
    """The processes a test started, by service name."""

    processes: dict[str, ServiceProcess]

    @property
    def gateway(self) -> ServiceProcess:
        """Return the gateway process."""
        return self.processes["gateway"]

    def logs(self) -> str:
        """Return every process's log tail, for an assertion message."""
        return "\n".join(process.log() for process in self.processes.values())

    def stop(self) -> None:
        """Stop every process; each is stopped even if stopping another fails."""
        with ExitStack() as stack:
            for process in self.processes.values():
                stack.callback(process.stop)
