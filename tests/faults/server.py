"""The API in a process of its own, as deployed: uvicorn running ``app.main:create_app``.

Processes are forked from a server that has imported the application once, so starting
one takes a fraction of a second rather than the seconds an import takes: the kill tests
start one per kill. The listening socket is bound here and handed over, so a request sent
while the server starts waits for it instead of being refused.
"""

import multiprocessing
import os
import socket
from typing import Any

import httpx
import uvicorn

_FORKS = multiprocessing.get_context("forkserver")
# "__main__" first: each process would otherwise run the main module (pytest) again.
_FORKS.set_forkserver_preload(
    ["__main__", "app.main", "uvicorn", "uvicorn.lifespan.on", "uvicorn.protocols.http.auto"]
)


def _serve(database_url: str, listening: socket.socket, env: dict[str, str]) -> None:
    """Run the service on ``database_url``, configured as `pulse serve` is: by environment."""
    os.environ.update(env)
    os.environ["PULSE_DATABASE_URL"] = database_url
    # No background publisher: the tests watch for the one write they make.
    os.environ["PULSE_PUBLISH_INTERVAL"] = "0"
    config = uvicorn.Config("app.main:create_app", factory=True, log_level="warning")
    uvicorn.Server(config).run(sockets=[listening])


class ApiProcess:
    """One API server on ``database_url``: ``start``, then ``kill`` (SIGKILL) or ``stop``."""

    def __init__(self, database_url: str, **env: str) -> None:
        self.database_url = database_url
        self.env = env  # PULSE_* settings of this server
        self.process: Any = None
        self.base = ""

    def launch(self) -> "ApiProcess":
        """Start the server, without waiting for it: ``ready`` does."""
        with socket.socket() as listening:
            listening.bind(("127.0.0.1", 0))
            listening.listen(128)
            self.base = f"http://127.0.0.1:{listening.getsockname()[1]}"
            self.process = _FORKS.Process(
                target=_serve, args=(self.database_url, listening, self.env), daemon=True
            )
            self.process.start()
        # Closed here once handed over: connections to a killed server are then refused.
        return self

    def ready(self, timeout: float = 60) -> "ApiProcess":
        """Wait until the server answers ``/healthz``."""
        try:
            answer = httpx.get(f"{self.base}/healthz", timeout=timeout)
        except httpx.TransportError as exc:
            exit_code = self.process.exitcode
            raise AssertionError(f"the API did not start (exit code {exit_code})") from exc
        assert answer.status_code == 200, answer.text
        return self

    def start(self) -> "ApiProcess":
        """Start the server and wait until it answers."""
        return self.launch().ready()

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
