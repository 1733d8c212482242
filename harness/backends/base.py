"""What a backend is, the registry of them, and what they share (Connect URLs, redaction).

A backend is one small object that says how it starts a session and what the harness may
assume about it: whether the engine sees this machine's files (goldens and outputs are
then read and written by Spark itself; otherwise on the client) and whether query plans
can be read through py4j (only an in-process classic session). The registry is the one
list of backend names: the CLI's and the plugin's choices come from it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from harness.errors import BackendError, first_line

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_CONNECT_PORT = 15002  # the port a "sc://host" URL without one means


@dataclass
class Session:
    """A session the harness started or adopted: its backend, the URL it was built with
    (remote backends), and the work folder it owns (local backend)."""

    backend: Backend
    spark: SparkSession
    url: str | None = None
    workdir: Path | None = None
    # The session this process already ran in (a Databricks cluster's own), taken rather
    # than started: never stopped by the harness.
    adopted: bool = False


class Backend(ABC):
    """One way to get a Spark session. Subclasses are stateless singletons in the registry."""

    name: ClassVar[str]
    #: A Spark Connect client (no SparkContext, no py4j); one process is either kind.
    remote: ClassVar[bool]
    #: Query plans (e.g. shuffle metrics) can be read through py4j: in-process classic only.
    reads_plans: ClassVar[bool]

    @abstractmethod
    def check_args(self, remote: str | None, profile: str | None) -> None:
        """Reject arguments this backend does not take (before anything starts)."""

    @abstractmethod
    def start(self, url: str | None, profile: str | None) -> Session:
        """A new session; ``url`` is the remote URL already resolved from ``$SPARK_REMOTE``."""

    @abstractmethod
    def stop(self, session: Session) -> None:
        """Stop a session this backend started, never hanging on a server that is gone."""

    @abstractmethod
    def sees_local_files(self, host: str | None) -> bool:
        """Whether the engine behind a session to ``host`` reads this machine's files."""

    def adopts(self, remote: str | None, profile: str | None) -> bool:
        """Whether ``start`` would take the session this process already runs in (a Databricks
        cluster's) instead of starting one: then the process stays classic, no Connect."""
        return False

    def alive(self, session: Session) -> bool:
        return not getattr(session.spark, "is_stopped", False)

    def __repr__(self) -> str:
        return f"<backend {self.name}>"


_REGISTRY: dict[str, Backend] = {}


def register(backend: Backend) -> Backend:
    _REGISTRY[backend.name] = backend
    return backend


def names() -> tuple[str, ...]:
    """Every backend name, in registration order (the default, ``local``, first)."""
    return tuple(_REGISTRY)


def get_backend(name: str) -> Backend:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise BackendError(
            f"unknown backend {name!r}; use one of: {', '.join(_REGISTRY)}"
        ) from None


# --------------------------------------------------------------------------- shared helpers


def redact(text: str) -> str:
    """Remove Databricks tokens, which can hide in connection strings and SDK errors."""
    text = re.sub(r"(?i)(token=)[^;&\s'\"]+", r"\1<redacted>", text)
    text = re.sub(r"(?i)(bearer\s+)[^\s'\";]+", r"\1<redacted>", text)
    text = re.sub(r"\bdapi[0-9a-f]{16,}(-\d+)?\b", "<redacted>", text)
    token = os.environ.get("DATABRICKS_TOKEN")
    if token:
        text = text.replace(token, "<redacted>")
    return text


def brief(exc: BaseException) -> str:
    """The first meaningful line of an exception: no JVM or gRPC dump reaches the user."""
    return redact(first_line(exc, 300))


def parse_sc_url(url: str) -> tuple[str, int]:
    """Host and port of a ``sc://HOST[:PORT][/;params]`` URL (IPv6 hosts in brackets)."""
    match = re.fullmatch(r"sc://(\[[^\]]+\]|[^:/;\[\]]+)(?::(\d+))?/?(;.*)?", url.strip())
    if not match:
        raise BackendError(
            f"bad Spark Connect URL {redact(url)!r}; expected sc://HOST:PORT (e.g. "
            "sc://127.0.0.1:15002)"
        )
    host = match.group(1).strip("[]")
    return host, int(match.group(2) or DEFAULT_CONNECT_PORT)


def is_loopback(host: str | None) -> bool:
    """``localhost`` or a loopback address, decided from the text alone (no DNS, no socket)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def probe_tcp(host: str, port: int, timeout: float = 5.0) -> str | None:
    """None when something accepts connections at host:port, else the reason it does not."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__
