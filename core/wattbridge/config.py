"""Configuration: a TOML file, then ``WATTBRIDGE_*`` variables, then flags (flags win).

Every key ``[section] name`` of the file is also the variable
``WATTBRIDGE_SECTION_NAME``; top-level keys map to ``WATTBRIDGE_NAME`` (so
``data_dir`` is ``WATTBRIDGE_DATA_DIR``). Keys are declared in one table,
:data:`OPTIONS`, with their type and default; an unknown key in the file is an
error (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs

from wattbridge.drivers.base import ENVIRONMENTS, EnvironmentName
from wattbridge.errors import ConfigurationError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> timedelta:
    """Parse ``180s``, ``3m``, ``1.5h``, ``250ms`` or a plain number of seconds."""
    if isinstance(value, bool):
        raise ConfigurationError(f"expected a duration such as '180s' or '3m', got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ConfigurationError(
                f"expected a duration such as '180s', '3m' or '2h', got {value!r}"
            )
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds < 0:
        raise ConfigurationError(f"a duration cannot be negative, got {value!r}")
    return timedelta(seconds=seconds)


def _parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigurationError(f"expected true or false, got {value!r}")


def _parse_int(value: object) -> int:
    if isinstance(value, bool):
        raise ConfigurationError(f"expected a whole number, got {value!r}")
    try:
        return int(str(value))
    except ValueError:
        raise ConfigurationError(f"expected a whole number, got {value!r}") from None


def _parse_list(value: object) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(part.strip() for part in str(value).split(",") if part.strip())


def _parse_positive_duration(value: object) -> timedelta:
    duration = parse_duration(value)
    if duration <= timedelta(0):
        raise ConfigurationError(f"expected a duration above 0 such as '60s', got {value!r}")
    return duration


def _parse_str(value: object) -> str:
    return str(value)


def _parse_optional_list(value: object) -> tuple[str, ...] | None:
    items = _parse_list(value)
    return None if items == ("*",) else items


def _parse_mapping(value: object) -> dict[str, str]:
    # A TOML table, or "name=value,name=value" in a variable.
    if isinstance(value, dict):
        return {str(k).strip(): str(v).strip() for k, v in value.items()}
    mapping: dict[str, str] = {}
    for part in _parse_list(value):
        name, sep, item = part.partition("=")
        if not sep or not name.strip() or not item.strip():
            raise ConfigurationError(
                f"expected name=value pairs separated by commas, got {part!r}"
            )
        mapping[name.strip()] = item.strip()
    return mapping


@attrs.frozen
class Option:
    """One configuration key: where it lives, how to parse it, its default."""

    section: str | None
    name: str
    parse: Callable[[object], Any]
    default: Any
    help: str

    @property
    def env_var(self) -> str:
        """The environment variable that sets this key."""
        parts = [self.section, self.name] if self.section else [self.name]
        return "WATTBRIDGE_" + "_".join(p.upper() for p in parts)

    @property
    def dotted(self) -> str:
        """``section.name`` (or ``name`` for top-level keys), as used in messages."""
        return f"{self.section}.{self.name}" if self.section else self.name


def _env_options(env: EnvironmentName) -> list[Option]:
    live = env == "live"
    return [
        Option(
            env,
            "providers",
            _parse_optional_list,
            None,
            "device providers to use ('*' or unset: every installed provider for it)",
        ),
        Option(env, "solver", _parse_str, "highs" if live else "fixtures", "scan solver"),
        Option(env, "transport", _parse_str, "http", "webhook transport"),
        Option(
            env,
            "billing_sinks",
            _parse_list,
            ("ledger",) if live else (),
            "billing sinks receiving usage events",
        ),
        Option(
            env,
            "webhook_delay",
            parse_duration,
            timedelta(seconds=0 if live else 180),
            "delay before action.* webhooks are sent",
        ),
        Option(
            env,
            "private_webhook_targets",
            _parse_bool,
            False,
            "allow webhook endpoints on private/loopback addresses",
        ),
        Option(
            env,
            "metered",
            _parse_bool,
            live,
            "scans cost credits, count in usage meters and tier limits",
        ),
        Option(
            env,
            "solve_time_limit",
            _parse_positive_duration,
            timedelta(seconds=60),
            "time a queued scan's solver gets before the scan ends as a time-limit error",
        ),
    ]


def _sink_options() -> list[Option]:
    # Settings of billing sinks, one section per sink; a sink receives its
    # section when the billing worker binds it to an environment.
    return [
        Option("stripe", "api_key", _parse_str, "", "Stripe secret key (stripe billing sink)"),
        Option("stripe", "api_base", _parse_str, "https://api.stripe.com", "Stripe API base URL"),
        Option(
            "stripe",
            "event_name",
            _parse_str,
            "wattbridge_scan_credits",
            "event name of the Stripe billing meter that counts scan credits",
        ),
        Option(
            "stripe",
            "customers",
            _parse_mapping,
            {},
            "project id = Stripe customer id (cus_...) for every billed project",
        ),
    ]


SINK_SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(str(o.section) for o in _sink_options()))
"""Configuration sections that belong to billing sinks of the same name."""

OPTIONS: tuple[Option, ...] = (
    Option(None, "data_dir", _parse_str, ".wattbridge", "where the SQLite databases live"),
    Option(None, "host", _parse_str, "127.0.0.1", "address to listen on"),
    Option(None, "port", _parse_int, 8000, "port to listen on"),
    Option(None, "key_prefixes", _parse_list, ("sk", "zs"), "accepted API key prefixes"),
    Option(
        None,
        "load_plugins",
        _parse_optional_list,
        None,
        "load only these entry-point plugins (comma-separated)",
    ),
    Option(None, "disabled_plugins", _parse_list, (), "never load these plugins"),
    Option(None, "strict_plugins", _parse_bool, False, "a broken plugin stops the program"),
    Option(None, "public_url", _parse_str, "", "base URL for links (default: from the request)"),
    Option(
        None,
        "access_log",
        _parse_str,
        "-",
        "where serve writes one line per request: - (stderr), off, or a file path",
    ),
    *_env_options("sandbox"),
    *_env_options("live"),
    *_sink_options(),
)


@attrs.frozen
class EnvironmentConfig:
    """The settings of one environment."""

    providers: tuple[str, ...] | None
    solver: str
    transport: str
    billing_sinks: tuple[str, ...]
    webhook_delay: timedelta
    private_webhook_targets: bool
    metered: bool
    solve_time_limit: timedelta
    sink_settings: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict, repr=False)
    """Billing sinks' configuration sections, by sink name (secrets: never printed)."""


@attrs.frozen
class Config:
    """Everything an operator can configure, after precedence has been applied."""

    data_dir: Path
    host: str
    port: int
    key_prefixes: tuple[str, ...]
    load_plugins: tuple[str, ...] | None
    disabled_plugins: tuple[str, ...]
    strict_plugins: bool
    public_url: str
    sandbox: EnvironmentConfig
    live: EnvironmentConfig
    access_log: str

    def environment(self, name: EnvironmentName) -> EnvironmentConfig:
        """The settings of environment ``name``."""
        return self.sandbox if name == "sandbox" else self.live

    @classmethod
    def load(
        cls,
        file: Path | None = None,
        environ: Mapping[str, str] | None = None,
        overrides: Mapping[str, object] | None = None,
    ) -> Config:
        """Build the configuration from a TOML file, variables and flag overrides.

        :param overrides: values from flags, keyed ``name`` or ``section.name``;
            ``None`` values are ignored (flag not given).
        :raises ConfigurationError: naming the bad key and its source.
        """
        values: dict[str, object] = {o.dotted: o.default for o in OPTIONS}
        if file is not None:
            _apply(values, _read_toml(file), f"config file {file}")
        env = os.environ if environ is None else environ
        for option in OPTIONS:
            if option.env_var in env:
                _set(values, option, env[option.env_var], option.env_var)
        for key, value in (overrides or {}).items():
            if value is not None:
                option = _option(key)
                _set(values, option, value, f"--{option.name.replace('_', '-')}")
        return cls._from_values(values)

    @classmethod
    def _from_values(cls, values: Mapping[str, Any]) -> Config:
        prefixes = values["key_prefixes"]
        for prefix in prefixes:
            if not re.fullmatch(r"[a-z]{2,8}", prefix):
                raise ConfigurationError(
                    f"key_prefixes: {prefix!r} is not a valid prefix (2-8 lowercase letters)"
                )
        if not prefixes:
            raise ConfigurationError("key_prefixes: at least one prefix is needed")
        sinks = {
            section: {o.name: values[o.dotted] for o in OPTIONS if o.section == section}
            for section in SINK_SECTIONS
        }
        envs = {
            name: EnvironmentConfig(
                **{o.name: values[o.dotted] for o in OPTIONS if o.section == name},
                sink_settings=sinks,
            )
            for name in ENVIRONMENTS
        }
        return cls(
            data_dir=Path(values["data_dir"]),
            host=values["host"],
            port=values["port"],
            key_prefixes=prefixes,
            load_plugins=values["load_plugins"],
            disabled_plugins=values["disabled_plugins"],
            strict_plugins=values["strict_plugins"],
            public_url=values["public_url"].rstrip("/"),
            access_log=values["access_log"] or "-",
            sandbox=envs["sandbox"],
            live=envs["live"],
        )


def _option(dotted: str) -> Option:
    for option in OPTIONS:
        if option.dotted == dotted:
            return option
    known = ", ".join(o.dotted for o in OPTIONS)
    raise ConfigurationError(f"unknown configuration key {dotted!r}; known keys: {known}")


def _set(values: dict[str, object], option: Option, raw: object, source: str) -> None:
    try:
        values[option.dotted] = option.parse(raw)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{source} ({option.dotted}): {exc}") from None


def _read_toml(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigurationError(f"config file {file} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {file} is not valid TOML: {exc}") from None


def _apply(values: dict[str, object], document: Mapping[str, Any], source: str) -> None:
    for key, value in document.items():
        if isinstance(value, dict):
            for name, inner in value.items():
                _set(values, _keyed(f"{key}.{name}", source), inner, source)
        else:
            _set(values, _keyed(key, source), value, source)


def _keyed(dotted: str, source: str) -> Option:
    try:
        return _option(dotted)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{source}: {exc}") from None
