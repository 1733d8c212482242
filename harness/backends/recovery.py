"""A lost Spark session, recognised and waited for in bounded time.

Spark Connect asks its clients to rebuild, not resume: when the server restarts (a Connect
server killed, a Databricks cluster restarted) the old session is refused on purpose, as
its temp views and settings are gone. Two things follow for the harness. A client must
never sit in pyspark's default retry loop (up to ten minutes of back-off per call while a
dead server is not coming back), so every Connect session the harness builds gets a
bounded policy; and a model whose session was lost is rerun once on a new session, which
needs the fault recognised in whatever exception it surfaced as. Both live here.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any

# How long one call may wait for an unreachable server, in seconds (a harness-owned server
# restarts in about ten; a Databricks cluster takes minutes: set it higher for --remote).
RETRY_SECONDS_ENV = "HARNESS_CONNECT_RETRY_SECONDS"
DEFAULT_RETRY_SECONDS = 90.0
_MAX_BACKOFF_MS = 2000  # a restarted server is found within two seconds of coming back

# What a lost server or session says, in the client's exceptions (gRPC status names and
# Spark's error classes): text patterns, as the exception types differ between pyspark,
# databricks-connect and grpc versions.
_LOST = (
    (r"SESSION_CHANGED|session[_ ]?id (?:has )?changed|server side session", "session changed"),
    (r"INVALID_HANDLE\.SESSION_(?:NOT_FOUND|CLOSED)|NO_ACTIVE_SESSION", "session gone"),
    (r"StatusCode\.UNAVAILABLE|status = StatusCode.UNAVAILABLE|\bUNAVAILABLE\b", "unavailable"),
    (r"Connection refused|failed to connect to all addresses|Socket closed", "unreachable"),
    (r"RetriesExceeded|RETRIES_EXCEEDED", "unreachable"),
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it was raised from or during, once each."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


def lost_session(exc: BaseException) -> str | None:
    """The fault in one line ("Spark Connect session changed: ...") when ``exc``, or what
    it came from, says the server or the session behind it went away; else None."""
    for current in _chain(exc):
        text = f"{type(current).__name__}: {current}"
        for pattern, what in _LOST:
            if re.search(pattern, text):
                first = next((ln.strip() for ln in str(current).splitlines() if ln.strip()), "")
                return f"Spark session lost ({what}): {first[:160]}"
    return None


def retry_seconds() -> float:
    """Seconds one call may wait for an unreachable server ($HARNESS_CONNECT_RETRY_SECONDS)."""
    try:
        return max(1.0, float(os.environ.get(RETRY_SECONDS_ENV, DEFAULT_RETRY_SECONDS)))
    except ValueError:
        return DEFAULT_RETRY_SECONDS


def bounded_policy(seconds: float | None = None) -> Any:
    """pyspark's default Connect retry policy (same errors retried), with its back-off capped
    at two seconds and its retries at about ``seconds`` of waiting in all."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    seconds = retry_seconds() if seconds is None else seconds
    waits, total, retries = 50.0, 0.0, 0
    while total < seconds * 1000:
        total += waits
        retries += 1
        waits = min(waits * 4.0, _MAX_BACKOFF_MS)
    return DefaultPolicy(
        max_retries=retries,
        max_backoff=_MAX_BACKOFF_MS,
        jitter=200,
        max_server_retry_delay=int(seconds * 1000),
    )


def bound_retries(spark: Any, seconds: float | None = None) -> None:
    """Give a Connect session the bounded policy (a no-op on a classic session)."""
    client = getattr(spark, "client", None)
    if client is not None and hasattr(client, "set_retry_policies"):
        client.set_retry_policies([bounded_policy(seconds)])


def wait_for_server(url: str, seconds: float | None = None) -> str | None:
    """Wait until something accepts connections at a Connect URL again (a server being
    restarted), at most ``seconds``; None once it does, else why it still does not."""
    from harness.backends.base import parse_sc_url, probe_tcp

    host, port = parse_sc_url(url)
    deadline = time.monotonic() + (retry_seconds() if seconds is None else seconds)
    while True:
        reason = probe_tcp(host, port, timeout=2.0)
        if reason is None or time.monotonic() >= deadline:
            return reason
        time.sleep(0.5)


# What the process that owns a Connect server saw happen to it, one line per event, for
# the processes using it (xdist workers) to name the fault they met.
EVENTS_ENV = "HARNESS_SERVER_EVENTS"


def record_event(line: str) -> None:
    """Append ``line`` to the run's server events (a no-op when none is kept)."""
    path = os.environ.get(EVENTS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line.replace("\n", " ") + "\n")


def last_event() -> str | None:
    """The newest server event of this run, if any."""
    path = os.environ.get(EVENTS_ENV)
    try:
        with open(path or "", encoding="utf-8") as handle:
            lines = [ln.strip() for ln in handle if ln.strip()]
    except OSError:
        return None
    return lines[-1] if lines else None
