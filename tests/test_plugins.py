"""Plugin discovery, isolation between platforms, strictness and fail-closed selection."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.support import WATTBRIDGE, free_port, healthy, make_config, wait_until
from wattbridge import hookimpl
from wattbridge.errors import PluginSelectionError
from wattbridge.platform import Platform
from wattbridge.plugins import PluginLoadError, PluginSet

ACME = '''
from wattbridge import hookimpl

class AcmeProvider:
    name = "acme"
    environments = frozenset({"live"})
    vendors = ()

@hookimpl
def register_device_providers(register):
    register(AcmeProvider())
'''


def make_distribution(site: Path, dist: str, version: str, module: str, source: str) -> None:
    """Write an installed-looking distribution (package + dist-info) into ``site``."""
    (site / module).mkdir(parents=True)
    (site / module / "__init__.py").write_text(textwrap.dedent(source))
    info = site / f"{dist}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[wattbridge]\n{dist} = {module}\n")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    site.mkdir()
    make_distribution(site, "acme", "1.2.3", "wattbridge_acme", ACME)
    make_distribution(site, "broken", "0.0.1", "wattbridge_broken", "raise ImportError('boom')\n")
    return site


def run_cli(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(site), **env}
    for name in ("WATTBRIDGE_LOAD_PLUGINS", "WATTBRIDGE_DISABLED_PLUGINS"):
        if name not in env:
            environ.pop(name, None)
    return subprocess.run([WATTBRIDGE, *args], env=environ, capture_output=True, text=True,
                          timeout=60, check=False)


def test_third_party_plugin_is_discovered_and_broken_one_is_listed(site: Path) -> None:
    result = run_cli(site, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["acme"]["version"] == "1.2.3"
    assert plugins["acme"]["hooks"] == ["register_device_providers"]
    assert plugins["acme"]["drivers"] == [
        {"kind": "provider", "name": "acme", "environments": ["live"]}
    ]
    assert "boom" in plugins["broken"]["error"]
    assert {"sandbox", "fixtures", "highs", "http"} <= set(plugins)
    text = run_cli(site, "plugins")
    assert "acme 1.2.3" in text.stdout and "error:" in text.stdout


def test_strict_mode_makes_a_broken_plugin_fatal(site: Path) -> None:
    result = run_cli(site, "plugins", WATTBRIDGE_STRICT_PLUGINS="1")
    assert result.returncode != 0
    assert "broken" in result.stderr and "boom" in result.stderr
    assert "Traceback" not in result.stderr


def test_load_and_disable_lists(site: Path) -> None:
    only = json.loads(run_cli(site, "plugins", "--json", WATTBRIDGE_LOAD_PLUGINS="acme").stdout)
    assert [p["name"] for p in only] == ["acme"]
    without = json.loads(
        run_cli(site, "plugins", "--json", WATTBRIDGE_DISABLED_PLUGINS="broken,acme").stdout
    )
    assert {"acme", "broken"}.isdisjoint(p["name"] for p in without)


def test_server_starts_despite_a_broken_plugin(site: Path, tmp_path: Path) -> None:
    port = free_port()
    environ = {**os.environ, "PYTHONPATH": str(site)}
    environ.pop("WATTBRIDGE_LOAD_PLUGINS", None)
    proc = subprocess.Popen(
        [WATTBRIDGE, "serve", "--port", str(port), "--data-dir", str(tmp_path / "d")],
        env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_until(partial(healthy, port), 30, proc=proc)
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=10)
    assert "broken" in output  # the failure is reported, not hidden


class SandboxOnlyProvider:
    name = "simonly"
    environments = frozenset({"sandbox"})
    vendors = ()


class SimOnlyPlugin:
    @hookimpl
    def register_device_providers(self, register: Any) -> None:
        register(SandboxOnlyProvider())


def test_selection_fails_closed_naming_plugin_and_environment(tmp_path: Path) -> None:
    config = make_config(tmp_path, **{"live.providers": "simonly"})
    with pytest.raises(PluginSelectionError) as info:
        Platform(config=config, extra_plugins=[("simplug", SimOnlyPlugin())])
    assert "simonly" in str(info.value) and "live" in str(info.value)
    assert "simplug" in str(info.value)


def test_missing_named_driver_lists_the_available_ones(tmp_path: Path) -> None:
    config = make_config(tmp_path, **{"sandbox.providers": "nosuch"})
    expected = r"'nosuch' is not available; available: .*simonly"
    with pytest.raises(PluginSelectionError, match=expected):
        Platform(config=config, extra_plugins=[("simplug", SimOnlyPlugin())])


def test_two_platforms_do_not_share_plugins(tmp_path: Path) -> None:
    with_plugin = Platform(config=make_config(tmp_path / "a"),
                           extra_plugins=[("simplug", SimOnlyPlugin())])
    without = Platform(config=make_config(tmp_path / "b"))
    assert "simonly" in with_plugin.environment("sandbox").providers
    assert "simonly" not in without.environment("sandbox").providers
    assert "simplug" not in without.plugins.info
    with_plugin.close()
    without.close()


class MisspeltHook:
    @hookimpl
    def register_device_provider(self, register: Any) -> None:  # missing "s"
        register(SandboxOnlyProvider())


class RaisingPlugin:
    @hookimpl
    def register_scan_solvers(self, register: Any) -> None:
        raise RuntimeError("solver plugin bug")


class DuplicatePlugin:
    @hookimpl
    def register_device_providers(self, register: Any) -> None:
        register(SandboxOnlyProvider())


def test_misspelt_hook_is_reported_and_fatal_when_strict() -> None:
    plugins = PluginSet.discover(load=[], extra=[("typo", MisspeltHook())])
    assert "register_device_provider" in (plugins.info["typo"].error or "")
    with pytest.raises(PluginLoadError, match="typo"):
        PluginSet.discover(load=[], strict=True, extra=[("typo", MisspeltHook())])


def test_plugin_raising_while_registering_is_skipped() -> None:
    plugins = PluginSet.discover(load=[], extra=[("bad", RaisingPlugin())])
    assert "solver plugin bug" in (plugins.info["bad"].error or "")
    assert plugins.drivers["solver"] == {}


def test_duplicate_driver_names_are_rejected_loudly() -> None:
    plugins = PluginSet.discover(
        load=[], extra=[("first", SimOnlyPlugin()), ("second", DuplicatePlugin())]
    )
    assert plugins.drivers["provider"]["simonly"].plugin == "first"
    assert "already registered by plugin 'first'" in (plugins.info["second"].error or "")


def test_driver_without_declarations_is_refused() -> None:
    class Nameless:
        @hookimpl
        def register_device_providers(self, register: Any) -> None:
            register(object())

    plugins = PluginSet.discover(load=[], extra=[("nameless", Nameless())])
    assert "must have 'name' and 'environments'" in (plugins.info["nameless"].error or "")
