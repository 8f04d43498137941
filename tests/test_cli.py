"""The command-line tool, run as real subprocesses."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import httpx
import pytest

from tests.support import free_port, run_cli, serving


def test_projects_and_keys_lifecycle(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    created = run_cli("projects", "create", "acme", "--live", "--data-dir", data)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip().startswith("proj_")

    sandbox = run_cli("keys", "create", "--env", "sandbox", "--data-dir", data)
    assert sandbox.returncode == 0, sandbox.stderr
    key = sandbox.stdout.strip()
    assert re.fullmatch(r"sk_test_[0-9A-Za-z]{38}", key), "stdout must be only the key"

    live = run_cli("keys", "create", "--env", "live", "--prefix", "zs", "--project", "acme",
               "--data-dir", data)
    assert live.stdout.strip().startswith("zs_live_")

    listed = json.loads(run_cli("keys", "list", "--json", "--data-dir", data).stdout)
    assert [k["environment"] for k in listed] == ["sandbox", "live"]
    assert all(k["project"] == "acme" and k["revoked"] is None for k in listed)
    assert key not in json.dumps(listed)
    assert listed[0]["hint"].endswith(key[-4:])

    revoked = run_cli("keys", "revoke", listed[0]["id"], "--data-dir", data)
    assert revoked.returncode == 0, revoked.stderr
    after = json.loads(run_cli("keys", "list", "--json", "--data-dir", data).stdout)
    assert after[0]["revoked"] is not None

    projects = json.loads(run_cli("projects", "list", "--json", "--data-dir", data).stdout)
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
    run_cli("projects", "create", "p1", "--data-dir", str(data))
    result = run_cli(*args, "--data-dir", str(data))
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("keys", "list", "--data-dir", str(tmp_path / "nope"))
    assert result.returncode != 0
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--data-dir", str(tmp_path / "d"))
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_writes_the_access_log_to_a_file_or_nowhere(tmp_path: Path) -> None:
    access = tmp_path / "access.log"
    for target in (str(access), "off"):
        port = free_port()
        out = tmp_path / f"out-{port}.log"
        with serving(tmp_path / "d", port, out, "--access-log", target):
            httpx.get(f"http://127.0.0.1:{port}/v1/nothing-here?q=1")
        assert "/v1/nothing-here" not in out.read_text()
    written = access.read_text().splitlines()
    assert [line.split(" ")[1:4] for line in written] == [
        ["GET", "/healthz", "200"], ["GET", "/v1/nothing-here", "404"]
    ]  # the second server (off) added nothing

    refused = run_cli("serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "d"),
                  "--access-log", str(tmp_path / "no" / "such" / "dir.log"))
    assert refused.returncode != 0
    assert "access_log: cannot open" in refused.stderr and "Traceback" not in refused.stderr


def test_serve_prints_a_working_key_once_and_logs_no_secrets(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "d"
    log_path = tmp_path / "server.log"
    with serving(data, port, log_path, "--dev"):
        base = f"http://127.0.0.1:{port}"
        printed = log_path.read_text()
        key = re.search(r"sk_test_[0-9A-Za-z]{38}", printed)
        assert key, printed
        me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {key.group()}"})
        assert me.json()["meta"]["environment"] == "sandbox"
        # A key wrongly sent in the URL must not end up in the log either.
        httpx.get(f"{base}/v1/me", params={"api_key": key.group()})
        httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {key.group()}x"})
    log_text = log_path.read_text()
    assert log_text.count(key.group()) == 2  # the one-time banner: the key and the curl line
    # The access log (stderr by default): one line per request, the path without its query.
    lines = re.findall(r"^\S+Z GET /v1/me (\d{3}) req_\w{24} [\d.]+ms$", log_text, re.M)
    assert lines == ["200", "401", "401"], log_text
    assert "api_key" not in log_text
    # A second start on the same data dir prints no key.
    second_log = tmp_path / "second.log"
    with serving(data, port, second_log):
        pass  # up and serving: a banner would have been printed before this point
    assert "sk_test_" not in second_log.read_text()
