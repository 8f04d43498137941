"""Test support: a real uvicorn server on loopback, in a thread of the test process.

Running the server in-process (rather than as a subprocess) lets tests inject a
:class:`FrozenClock`; the HTTP between the test and the server is still real.
Tests of the command-line tool start real ``wattbridge`` subprocesses instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from click.testing import CliRunner, Result

from wattbridge.cli import cli
from wattbridge.clock import Clock
from wattbridge.config import Config
from wattbridge.drivers.base import EnvironmentName
from wattbridge.platform import Platform
from wattbridge.services.metering import revise_plan
from wattbridge.store.control import PlanStore

SCAN_BODY: dict[str, Any] = {
    "inputMethod": "known",
    "yearlyKwh": 3500,
    "goal": "cost-savings",
    "location": {"lat": 52.09, "lon": 5.12},
    "newPv": [{"maxPanelCount": 12, "tilt": 35, "azimuth": 180}],
    "electricBattery": {"minKwh": 5, "maxKwh": 15},
}
"""A valid CreateScan body (a Dutch household); tests copy it before changing it."""

BUILTIN_PLUGINS = ("sandbox", "fixtures", "highs", "http")

WATTBRIDGE = str(Path(sys.executable).with_name("wattbridge"))
"""The command-line tool of this virtual environment, for tests that start real processes."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_config(data_dir: Path, **overrides: Any) -> Config:
    """A configuration that loads only the built-in plugins (never whatever else is installed)."""
    values: dict[str, Any] = {"data_dir": str(data_dir), "load_plugins": ",".join(BUILTIN_PLUGINS)}
    values.update(overrides)
    return Config.load(environ={}, overrides=values)


class ServerThread:
    """uvicorn serving an ASGI app on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServerThread:
        """Start and wait until the socket accepts requests."""
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for it."""
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def running(platform: Platform) -> Iterator[ServerThread]:
    """Serve ``platform`` for the duration of the block."""
    server = ServerThread(platform.asgi_app()).start()
    try:
        yield server
    finally:
        server.stop()


class Api:
    """A tiny HTTP client bound to one key, returning parsed envelopes."""

    def __init__(self, base_url: str, key: str | None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=30)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request and return the raw response."""
        return self.http.request(method, path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET."""
        return self.http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST."""
        return self.http.post(path, **kwargs)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()


def new_platform(data_dir: Path, clock: Clock | None = None, **config: Any) -> Platform:
    """A platform on ``data_dir`` with only the built-in plugins."""
    return Platform(config=make_config(data_dir, **config), clock=clock)


def key_of(platform: Platform, project: str, env: EnvironmentName) -> str:
    """A fresh API key of the project named ``project`` in ``env``."""
    return platform.access.issue_key(platform.access.project(project).id, env).plaintext


def set_plan(platform: Platform, project_id: str, **changes: Any) -> None:
    """Change a project's plan as ``wattbridge projects set-plan`` does."""
    plans = PlanStore(platform.control_db)
    plans.set(project_id, revise_plan(plans.get(project_id), **changes), platform.clock.now())


def data(response: httpx.Response, status: int) -> Any:
    """The ``data`` of a response after checking its status."""
    assert response.status_code == status, response.text
    return response.json()["data"]


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error envelope of a response after checking status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["statusCode"] == status, body
    assert body["error"]["code"] == code, body
    return dict(body)


def scans_and_events(api: Api) -> tuple[int, int]:
    """(scans, events) the key's project holds in the key's environment."""
    scans = data(api.get("/v1/scans"), 200)["total"]
    events = data(api.get("/v1/events"), 200)["pagination"]["total"]
    return scans, events


def wait_until(
    condition: Callable[[], bool],
    seconds: float,
    describe: Callable[[], object] = lambda: "",
    proc: subprocess.Popen[Any] | None = None,
) -> None:
    """Poll ``condition`` until it holds; fail with ``describe()`` after ``seconds``, or at
    once if ``proc`` (a server under test) has exited."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc is None or proc.poll() is None, f"server exited: {describe()}"
        assert time.monotonic() < deadline, f"timed out: {describe()}"
        time.sleep(0.05)


def healthy(port: int) -> bool:
    """Whether a server on loopback ``port`` answers ``GET /healthz`` with 200."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


# --- the command-line tool -------------------------------------------------------------


def cli_env(plugins: tuple[str, ...] = BUILTIN_PLUGINS, **extra: str) -> dict[str, str]:
    """The environment of a ``wattbridge`` subprocess: this one's, without any
    ``WATTBRIDGE_*`` setting it inherited, loading only ``plugins``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTBRIDGE_")}
    return {**env, "WATTBRIDGE_LOAD_PLUGINS": ",".join(plugins), **extra}


def run_cli(
    *args: str, plugins: tuple[str, ...] = BUILTIN_PLUGINS, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``wattbridge *args`` as a real subprocess and wait for it."""
    return subprocess.run([WATTBRIDGE, *args], capture_output=True, text=True,
                          env=cli_env(plugins), timeout=timeout, check=False)


def invoke_cli(*args: str, plugins: tuple[str, ...] = BUILTIN_PLUGINS) -> Result:
    """Run the command-line tool in this process (a process start costs seconds)."""
    return CliRunner().invoke(cli, list(args), env={"WATTBRIDGE_LOAD_PLUGINS": ",".join(plugins)})


@contextmanager
def serving(
    data_dir: Path, port: int, log_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``wattbridge serve`` (with ``args``) on loopback ``port`` until the block ends
    (or the test kills it), its output appended to ``log_path``; wait until it answers."""
    with log_path.open("a") as log:
        proc = subprocess.Popen(
            [WATTBRIDGE, "serve", "--port", str(port), "--data-dir", str(data_dir), *args],
            stdout=log, stderr=subprocess.STDOUT, env=cli_env(**(env or {})),
        )
    try:
        wait_until(lambda: healthy(port), 30, lambda: log_path.read_text(), proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError("wattbridge serve did not stop within 15 s") from None
