"""The backend registry and what each backend promises, decided without starting or
contacting anything (the sessions themselves are tested in test_session.py)."""

from __future__ import annotations

import re
import socket

import pytest

from harness import backends, cli, pytest_options
from harness.backends import BACKENDS, get_backend, get_spark
from harness.backends.base import is_loopback, parse_sc_url
from harness.errors import BackendError


def test_the_registry_is_the_one_list_of_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert BACKENDS == backends.names() == ("local", "connect", "databricks")
    assert [get_backend(name).name for name in BACKENDS] == list(BACKENDS)
    assert pytest_options.OPTIONS["backend"]["choices"] == BACKENDS
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "m", "--backend", "spark2"])
    assert re.search(
        r"choose from '?local'?, '?connect'?, '?databricks'?\)", capsys.readouterr().err
    )


def test_unknown_backend_lists_the_registered_ones() -> None:
    with pytest.raises(
        BackendError,
        match=r"unknown backend 'spark2'; use one of: local, connect, "
        r"databricks$",
    ):
        get_backend("spark2")


@pytest.mark.parametrize(
    ("name", "remote", "reads_plans"),
    [("local", False, True), ("connect", True, False), ("databricks", True, False)],
)
def test_capabilities(name: str, remote: bool, reads_plans: bool) -> None:
    backend = get_backend(name)
    assert (backend.remote, backend.reads_plans) == (remote, reads_plans)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to resolve or reach a host fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"contacted the network: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "gethostbyname", refuse)


@pytest.mark.parametrize(
    ("url", "sees"),
    [
        ("sc://127.0.0.1:15002", True),
        ("sc://127.0.0.1:40123/;session_id=abc", True),
        ("sc://localhost", True),
        ("sc://[::1]:15002", True),
        ("sc://127.0.0.2:15002", True),
        ("sc://10.0.0.5:15002", False),
        ("sc://spark.example.com:15002", False),
        ("sc://localhost.example.com:15002", False),
        ("sc://adb-1234.azuredatabricks.net:443/;token=dapi0123456789abcdef", False),
    ],
)
def test_connect_sees_local_files_only_on_a_loopback_host(no_network, url: str, sees: bool):
    host, _port = parse_sc_url(url)
    assert get_backend("connect").sees_local_files(host) is sees
    assert get_backend("databricks").sees_local_files(host) is False  # a workspace, always
    assert get_backend("local").sees_local_files(None) is True


def test_loopback_is_decided_from_the_text(no_network) -> None:
    assert is_loopback("127.9.9.9") and is_loopback("LOCALHOST") and is_loopback("::1")
    assert not is_loopback(None) and not is_loopback("") and not is_loopback("0.0.0.0")


def test_bad_url_is_one_line_without_the_token() -> None:
    with pytest.raises(BackendError, match=r"expected sc://HOST:PORT") as info:
        parse_sc_url("http://host:1/;token=dapi0123456789abcdef0123")
    assert "dapi0123" not in str(info.value)


@pytest.mark.parametrize(
    ("backend", "kwargs", "message"),
    [
        ("local", {"remote": "sc://127.0.0.1:1"}, "local backend takes no remote URL"),
        ("local", {"profile": "dev"}, "local backend takes no remote URL or profile"),
        ("connect", {"profile": "dev"}, "profile is a Databricks setting"),
    ],
)
def test_arguments_a_backend_does_not_take(backend: str, kwargs: dict[str, str], message: str):
    with pytest.raises(BackendError, match=message):
        get_spark(backend, **kwargs)
