"""A private PostgreSQL cluster for fault tests: made, restarted, killed and removed here.

The cluster runs as a non-root user (PostgreSQL refuses root), on a free port of the
loopback interface, never on the machine's own server. Its directory is a fresh temporary
directory of that user rather than pytest's: pytest keeps its base directory private to the
user running the tests (mode 0700, re-tightened by every run), which another user cannot
enter.
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.net import free_port

CANDIDATE_BINS = (Path("/usr/lib/postgresql/15/bin"),)
# A process crash keeps what was written: only a machine crash needs fsync, and no test
# makes one. Commits stay synchronous, so an acknowledged commit is in the WAL.
SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off "
    "-c max_connections=60 -c shared_buffers=32MB"
)


def postgres_bin() -> Path | None:
    """The directory holding initdb and pg_ctl of PostgreSQL 15, if installed."""
    for candidate in CANDIDATE_BINS:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


class PrivateCluster:
    """One PostgreSQL cluster of this test run; ``start`` first, ``remove`` always."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        # Root may not run PostgreSQL; any other user runs it as themselves.
        self.user = "postgres" if os.geteuid() == 0 else None
        self.home = Path(tempfile.mkdtemp(prefix="pulse-faults-pg-"))
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.home, entry.pw_uid, entry.pw_gid)
        self.data = self.home / "data"
        self.log = self.home / "server.log"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` in this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=120,
            user=self.user,
            group=self.user,
            extra_groups=[] if self.user else None,
        )
        assert not check or done.returncode == 0, f"{args}: {done.stdout}{done.stderr}{self.tail()}"
        return done

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        options = f"{SERVER_OPTIONS} -p {self.port} -k {self.home}"
        return self._run(
            "pg_ctl", *args, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "90",
            "-o", options, check=check,
        )  # fmt: skip

    def start(self) -> None:
        """Create the cluster (trust authentication, user postgres) and start it."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self._ctl("start")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: end every session, shut down cleanly, start again."""
        self._ctl("restart", "-m", "fast")

    def postmaster_pid(self) -> int:
        """The pid of the running postmaster, from its pid file."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def kill_postmaster(self) -> None:
        """SIGKILL the postmaster, as a crash would; its sessions end once they notice."""
        pid = self.postmaster_pid()
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.02)

    def start_after_crash(self, timeout: float = 60) -> None:
        """Start again once the killed postmaster's sessions are gone (they hold its memory)."""
        deadline = time.monotonic() + timeout
        while (started := self._ctl("start", check=False)).returncode != 0:
            assert time.monotonic() < deadline, started.stdout + started.stderr + self.tail()
            time.sleep(0.2)

    def processes(self) -> list[int]:
        """The postmaster and every process it started (Linux: read from /proc)."""
        found, queue = [], [self.postmaster_pid()]
        while queue:
            pid = queue.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                queue += [int(c) for c in (task / "children").read_text().split()]
        return found

    def freeze(self) -> None:
        """SIGSTOP the whole cluster: it holds every connection open and answers nothing."""
        for pid in self.processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT the whole cluster."""
        for pid in self.processes():
            os.kill(pid, signal.SIGCONT)

    def tail(self) -> str:
        """The end of the server log, for failure messages."""
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def remove(self) -> None:
        """Stop the cluster, whatever state it is in, and delete its files."""
        try:
            if self.data.exists():
                self._ctl("stop", "-m", "immediate", check=False)
                pid_file = self.data / "postmaster.pid"
                if pid_file.exists() and _alive(pid := self.postmaster_pid()):
                    os.kill(pid, signal.SIGKILL)
        finally:
            shutil.rmtree(self.home, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (its parent gone, nobody reaping it) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
