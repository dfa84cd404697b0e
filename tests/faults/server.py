"""The API in a process of its own, as deployed: uvicorn running ``app.main:create_app``.

Processes are forked from a server that has imported the application once, so starting
one takes a fraction of a second rather than the seconds an import takes: the kill tests
start one per kill.
"""

import multiprocessing
import os
import time
from typing import Any

import httpx
import uvicorn

from tests.faults.cluster import free_port

_FORKS = multiprocessing.get_context("forkserver")
# "__main__" first: each process would otherwise run the main module (pytest) again.
_FORKS.set_forkserver_preload(["__main__", "app.main", "uvicorn"])


def _serve(database_url: str, port: int) -> None:
    """Run the service on ``database_url``, configured as `pulse serve` is: by environment."""
    os.environ["PULSE_DATABASE_URL"] = database_url
    uvicorn.run(
        "app.main:create_app", factory=True, host="127.0.0.1", port=port, log_level="warning"
    )


class ApiProcess:
    """One API server on ``database_url``: ``start``, then ``kill`` (SIGKILL) or ``stop``."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.process: Any = None
        self.base = ""

    def start(self, timeout: float = 60) -> "ApiProcess":
        """Start the server and wait until it answers ``/healthz``."""
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.process = _FORKS.Process(target=_serve, args=(self.database_url, port), daemon=True)
        self.process.start()
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.is_alive(), f"the API exited with {self.process.exitcode}"
            try:
                if httpx.get(f"{self.base}/healthz", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.02)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def kill(self) -> None:
        """SIGKILL the server, as a crash or the OOM killer would, and wait for its end."""
        self.process.kill()
        self.process.join(30)

    def stop(self) -> None:
        """End the server (SIGTERM, then SIGKILL if it does not go)."""
        if self.alive:
            self.process.terminate()
            self.process.join(30)
            if self.process.is_alive():
                self.kill()
