"""The command-line tool, run as real subprocesses."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.support import BUILTIN_PLUGINS, WATTBRIDGE, free_port, healthy, wait_until


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WATTBRIDGE_LOAD_PLUGINS": ",".join(BUILTIN_PLUGINS)}
    env.pop("WATTBRIDGE_DATA_DIR", None)
    return subprocess.run([WATTBRIDGE, *args], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)


def test_projects_and_keys_lifecycle(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    created = run("projects", "create", "acme", "--live", "--data-dir", data)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().startswith("proj_")

    sandbox = run("keys", "create", "--env", "sandbox", "--data-dir", data)
    assert sandbox.returncode == 0, sandbox.stderr
    key = sandbox.stdout.strip()
    assert re.fullmatch(r"sk_test_[0-9A-Za-z]{38}", key), "stdout must be only the key"

    live = run("keys", "create", "--env", "live", "--prefix", "zs", "--project", "acme",
               "--data-dir", data)
    assert live.stdout.strip().startswith("zs_live_")

    listed = json.loads(run("keys", "list", "--json", "--data-dir", data).stdout)
    assert [k["environment"] for k in listed] == ["sandbox", "live"]
    assert all(k["project"] == "acme" and k["revoked"] is None for k in listed)
    assert key not in json.dumps(listed)
    assert listed[0]["hint"].endswith(key[-4:])

    revoked = run("keys", "revoke", listed[0]["id"], "--data-dir", data)
    assert revoked.returncode == 0, revoked.stderr
    after = json.loads(run("keys", "list", "--json", "--data-dir", data).stdout)
    assert after[0]["revoked"] is not None

    projects = json.loads(run("projects", "list", "--json", "--data-dir", data).stdout)
    assert projects[0]["name"] == "acme" and projects[0]["liveEnabled"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("keys", "create", "--env", "prod"), "Invalid value for '--env'"),
        (("keys", "create", "--env", "sandbox", "--prefix", "xx"), "prefix"),
        (("keys", "revoke", "key_nope"), "no key 'key_nope'"),
        (("serve", "--port", "0"), "Invalid value for '--port'"),
        (("projects", "create", "bad name!"), "project name"),
    ],
)
def test_bad_flags_give_one_clear_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    data = tmp_path / "d"
    run("projects", "create", "p1", "--data-dir", str(data))
    result = run(*args, "--data-dir", str(data))
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    result = run("keys", "list", "--data-dir", str(tmp_path / "nope"))
    assert result.returncode != 0
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("serve", "--port", str(port), "--data-dir", str(tmp_path / "d"))
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_writes_the_access_log_to_a_file_or_nowhere(tmp_path: Path) -> None:
    env = {**os.environ, "WATTBRIDGE_LOAD_PLUGINS": ",".join(BUILTIN_PLUGINS)}
    access = tmp_path / "access.log"
    for target in (str(access), "off"):
        port = free_port()
        out = tmp_path / f"out-{port}.log"
        with out.open("w") as sink:
            proc = subprocess.Popen(
                [WATTBRIDGE, "serve", "--port", str(port), "--data-dir", str(tmp_path / "d"),
                 "--access-log", target],
                stdout=sink, stderr=subprocess.STDOUT, env=env,
            )
        try:
            wait_until(partial(healthy, port), 30, proc=proc)
            httpx.get(f"http://127.0.0.1:{port}/v1/nothing-here?q=1")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=15)
        assert "/v1/nothing-here" not in out.read_text()
    written = access.read_text().splitlines()
    assert [line.split(" ")[1:4] for line in written] == [
        ["GET", "/healthz", "200"], ["GET", "/v1/nothing-here", "404"]
    ]  # the second server (off) added nothing

    refused = run("serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "d"),
                  "--access-log", str(tmp_path / "no" / "such" / "dir.log"))
    assert refused.returncode != 0
    assert "access_log: cannot open" in refused.stderr and "Traceback" not in refused.stderr


def test_serve_prints_a_working_key_once_and_logs_no_secrets(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "d"
    env = {**os.environ, "WATTBRIDGE_LOAD_PLUGINS": ",".join(BUILTIN_PLUGINS)}
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [WATTBRIDGE, "serve", "--dev", "--port", str(port), "--data-dir", str(data)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(partial(healthy, port), 30, proc=proc)
        printed = log_path.read_text()
        key = re.search(r"sk_test_[0-9A-Za-z]{38}", printed)
        assert key, printed
        me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {key.group()}"})
        assert me.json()["meta"]["environment"] == "sandbox"
        # A key wrongly sent in the URL must not end up in the log either.
        httpx.get(f"{base}/v1/me", params={"api_key": key.group()})
        httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {key.group()}x"})
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
    log_text = log_path.read_text()
    assert log_text.count(key.group()) == 2  # the one-time banner: the key and the curl line
    # The access log (stderr by default): one line per request, the path without its query.
    lines = re.findall(r"^\S+Z GET /v1/me (\d{3}) req_\w{24} [\d.]+ms$", log_text, re.M)
    assert lines == ["200", "401", "401"], log_text
    assert "api_key" not in log_text
    # A second start on the same data dir prints no key.
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [WATTBRIDGE, "serve", "--port", str(port), "--data-dir", str(data)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    try:
        # Up and serving: a banner would have been printed before this point.
        wait_until(partial(healthy, port), 30, proc=proc)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=15)
    assert "sk_test_" not in log_path.read_text()
