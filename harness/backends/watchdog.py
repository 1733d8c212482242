"""Keeps a harness-owned Spark Connect server up for a whole run.

The server the pytest plugin starts is its child, so its death is known at once: no client
needs to wait out retries to learn it. The watchdog polls the process a few times a second;
when it has died, it reaps it (no zombie), says so in one line, and starts it again on the
same port, so every xdist worker's client finds it at the URL it already has. Those clients
are then refused their old session (Spark Connect's rule: temp views and settings are
gone), which :mod:`harness.backends.recovery` recognises and the plugin answers by rerunning
the model in flight once on a new session. A server that keeps dying is restarted at most
``max_restarts`` times; after that clients fail in bounded time and each model says why.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.backends.server import ConnectServer
from harness.errors import HarnessError


@dataclass
class Restart:
    """One death of the server and what the watchdog did about it."""

    old_pid: int | None
    died: str  # "killed by SIGKILL", "exit code 137"
    new_pid: int | None = None
    error: str | None = None  # why the restart failed, if it did

    def line(self, url: str | None) -> str:
        what = f"Spark Connect server {url} (pid {self.old_pid}) died ({self.died})"
        if self.error:
            return f"{what}; restart failed: {self.error}"
        return f"{what}; restarted as pid {self.new_pid} on the same URL"


@dataclass
class ServerWatchdog:
    """Restarts ``server`` when it dies, until :meth:`stop`; ``say`` gets one line each time."""

    server: ConnectServer
    say: Callable[[str], None] = print
    max_restarts: int = 3
    interval: float = 0.25
    restarts: list[Restart] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ServerWatchdog:
        # The thread that starts a server is the one whose exit kills it (PR_SET_PDEATHSIG):
        # this thread lives until stop(), which comes before the server's own stop.
        self._thread = threading.Thread(target=self._watch, name="harness-watchdog", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching (before the server is stopped on purpose)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=150)  # at most one restart in progress

    def _watch(self) -> None:
        while not self._stopping.wait(self.interval):
            died = self.server.exit_status()
            if died is None:
                continue
            if len(self.restarts) >= self.max_restarts:
                self.say(
                    f"Spark Connect server {self.server.url} died ({died}) after "
                    f"{self.max_restarts} restarts; not restarting it again"
                )
                return
            restart = Restart(self.server.pid, died)
            url = self.server.url
            try:
                self.server.restart()
                restart.new_pid = self.server.pid
            except HarnessError as exc:
                restart.error = str(exc)
            self.restarts.append(restart)
            self.say(restart.line(url))
            if restart.error:
                return
