"""Worker processes never outlive the process that started them."""

import os
import signal
import threading

# Set by `pulse serve --workers N` to its own process id, for the workers it starts.
SUPERVISOR_ENV = "PULSE_SUPERVISOR_PID"


def watch_supervisor(every: float = 0.5) -> threading.Event | None:
    """In a worker, stop (SIGTERM to itself: a graceful shutdown) once its supervisor is
    gone; None when not started by one. Set the returned event to stop watching."""
    supervisor = os.environ.get(SUPERVISOR_ENV)
    if not supervisor or not supervisor.isdigit() or int(supervisor) == os.getpid():
        return None
    stop = threading.Event()

    def watch() -> None:
        # A killed parent leaves the worker re-parented: its parent id changes.
        while not stop.wait(every):
            if os.getppid() != int(supervisor):
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="pulse-supervisor-watch", daemon=True).start()
    return stop
