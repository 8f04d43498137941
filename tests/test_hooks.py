"""One test per hook (test_hook_<name>), and docs/plugin-hooks.md kept true."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support import make_config
from tests.test_plugins import make_distribution
from wattbridge import hookimpl, hookspecs
from wattbridge.platform import Platform

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugin-hooks.md"


def platform_with(tmp_path: Path, plugin: object, **config: Any) -> Platform:
    return Platform(config=make_config(tmp_path, **config), extra_plugins=[("testplugin", plugin)])


class Named:
    def __init__(self, name: str, environments: set[str]) -> None:
        self.name = name
        self.environments = frozenset(environments)
        self.vendors = ()
        self.timeline = None


def test_hook_register_device_providers(tmp_path: Path) -> None:
    class Plugin:
        @hookimpl
        def register_device_providers(self, register: Any) -> None:
            register(Named("oem-x", {"live"}))

    platform = platform_with(tmp_path, Plugin())
    assert "oem-x" in platform.environment("live").providers
    assert "oem-x" not in platform.environment("sandbox").providers
    platform.close()


def test_hook_register_scan_solvers(tmp_path: Path) -> None:
    class Plugin:
        @hookimpl
        def register_scan_solvers(self, register: Any) -> None:
            register(Named("my-solver", {"live"}))

    platform = platform_with(tmp_path, Plugin(), **{"live.solver": "my-solver"})
    assert platform.environment("live").solver.name == "my-solver"
    platform.close()


def test_hook_register_webhook_transports(tmp_path: Path) -> None:
    class Plugin:
        @hookimpl
        def register_webhook_transports(self, register: Any) -> None:
            register(Named("carrier-pigeon", {"sandbox"}))

    platform = platform_with(tmp_path, Plugin(), **{"sandbox.transport": "carrier-pigeon"})
    assert platform.environment("sandbox").transport.name == "carrier-pigeon"
    assert platform.environment("live").transport.name == "http"
    platform.close()


def test_hook_register_billing_sinks(tmp_path: Path) -> None:
    class Plugin:
        @hookimpl
        def register_billing_sinks(self, register: Any) -> None:
            register(Named("meter", {"live"}))

    platform = platform_with(tmp_path, Plugin(), **{"live.billing_sinks": "meter"})
    assert [s.name for s in platform.environment("live").billing_sinks] == ["meter"]
    assert platform.environment("sandbox").billing_sinks == []
    platform.close()


def test_hook_prepare_storage(tmp_path: Path) -> None:
    seen: list[str] = []

    class Plugin:
        @hookimpl
        def prepare_storage(self, db: Any, environment: str) -> None:
            seen.append(environment)
            if not db["plugin_notes"].exists():
                db["plugin_notes"].create({"id": int, "note": str}, pk="id")

    platform = platform_with(tmp_path, Plugin())
    assert sorted(seen) == ["live", "sandbox"]
    for env in ("sandbox", "live"):
        tables = platform.environment(env).db.utils().table_names()  # type: ignore[arg-type]
        assert "plugin_notes" in tables
    platform.close()


def test_hook_register_commands(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    make_distribution(site, "greeter", "0.1", "wattbridge_greeter", '''
import click
from wattbridge import hookimpl

@hookimpl
def register_commands(cli):
    @cli.command()
    def greet():
        """Say hello."""
        click.echo("hello from a plugin")
''')
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("WATTBRIDGE_LOAD_PLUGINS", None)
    result = subprocess.run([str(Path(sys.executable).with_name("wattbridge")), "greet"],
                            env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello from a plugin"


def _signature(func: Any) -> str:
    annotations: Mapping[str, Any] = func.__annotations__
    params = ", ".join(
        f"{name}: {annotations[name]}" for name in inspect.signature(func).parameters
    )
    return f"def {func.__name__}({params}) -> {annotations['return']}"


@pytest.mark.parametrize("name", hookspecs.HOOK_NAMES)
def test_hook_is_documented_with_its_exact_signature(name: str) -> None:
    text = DOCS.read_text()
    assert _signature(getattr(hookspecs, name)) in text


def test_every_hookspec_is_listed_and_tested() -> None:
    specs = {name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)
             if hasattr(getattr(hookspecs, name), "wattbridge_spec")}
    assert specs == set(hookspecs.HOOK_NAMES)
    tests = set(re.findall(r"def test_hook_(\w+)\(", Path(__file__).read_text()))
    assert specs <= tests
