"""Configuration precedence (file < variables < flags), durations and errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from wattbridge.config import Config, parse_duration
from wattbridge.errors import ConfigurationError


def test_defaults() -> None:
    config = Config.load(environ={})
    assert config.sandbox.webhook_delay == timedelta(minutes=3)
    assert config.live.webhook_delay == timedelta(0)
    assert config.sandbox.solver == "fixtures" and config.live.solver == "highs"
    assert config.sandbox.private_webhook_targets is False
    assert config.key_prefixes == ("sk", "zs")
    assert config.data_dir == Path(".wattbridge")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("180s", 180), ("3m", 180), ("2h", 7200), ("250ms", 0.25), ("0", 0), (45, 45), ("1.5m", 90)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["3 minutes", "-5s", "m", True])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ConfigurationError):
        parse_duration(bad)


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    file = tmp_path / "wattbridge.toml"
    file.write_text(
        'port = 9000\n[sandbox]\nwebhook_delay = "10s"\nprivate_webhook_targets = true\n'
        '[live]\nprivate_webhook_targets = false\n'
    )
    from_file = Config.load(file=file, environ={})
    assert from_file.port == 9000
    assert from_file.sandbox.webhook_delay == timedelta(seconds=10)
    assert from_file.sandbox.private_webhook_targets is True

    env = {"WATTBRIDGE_SANDBOX_WEBHOOK_DELAY": "3m", "WATTBRIDGE_PORT": "9100"}
    from_env = Config.load(file=file, environ=env)
    assert from_env.sandbox.webhook_delay == timedelta(minutes=3)
    assert from_env.port == 9100

    from_flags = Config.load(file=file, environ=env, overrides={"port": 9200, "host": None})
    assert from_flags.port == 9200
    assert from_flags.host == "127.0.0.1"


def test_unknown_key_in_file_is_an_error_naming_it(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text("[sandbox]\nwebhook_dealy = '3m'\n")
    with pytest.raises(ConfigurationError, match=r"sandbox\.webhook_dealy"):
        Config.load(file=file, environ={})


def test_bad_values_name_the_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="WATTBRIDGE_PORT"):
        Config.load(environ={"WATTBRIDGE_PORT": "eighty"})
    file = tmp_path / "bad.toml"
    file.write_text("port = [")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        Config.load(file=file, environ={})
    with pytest.raises(ConfigurationError, match="does not exist"):
        Config.load(file=tmp_path / "missing.toml", environ={})


def test_plugin_lists_from_environment() -> None:
    config = Config.load(
        environ={"WATTBRIDGE_LOAD_PLUGINS": "sandbox, http", "WATTBRIDGE_STRICT_PLUGINS": "1"}
    )
    assert config.load_plugins == ("sandbox", "http")
    assert config.strict_plugins is True
