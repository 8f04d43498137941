"""Plugin loading: stevedore finds entry points, pluggy calls hooks.

One scan of the ``wattbridge`` entry-point group loads every plugin module
(built-in ones included, through the same mechanism); each is registered with a
pluggy ``PluginManager`` that belongs to one :class:`PluginSet` (so two
platforms in one process never share plugins). A plugin that fails to import,
implements a misspelt hook, or raises while registering drivers is recorded
with its error and skipped; with ``strict`` it is fatal instead.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Iterable, Sequence
from types import ModuleType
from typing import Any, TypeVar, cast

import attrs
import pluggy
from stevedore import NamedExtensionManager

from wattbridge import hookspecs
from wattbridge.drivers.base import Driver, EnvironmentName
from wattbridge.errors import ConfigurationError, PluginSelectionError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "wattbridge"

# hook name → the kind of driver it registers
DRIVER_HOOKS: dict[str, str] = {
    "register_device_providers": "provider",
    "register_scan_solvers": "solver",
    "register_webhook_transports": "transport",
    "register_billing_sinks": "billing_sink",
}

D = TypeVar("D")


class PluginLoadError(ConfigurationError):
    """A plugin could not be loaded and strict mode is on."""


@attrs.define
class PluginInfo:
    """What ``wattbridge plugins`` shows about one plugin."""

    name: str
    version: str | None
    module: str | None
    hooks: list[str] = attrs.field(factory=list)
    drivers: list[dict[str, Any]] = attrs.field(factory=list)
    error: str | None = None


@attrs.frozen
class RegisteredDriver:
    """A driver and the plugin that registered it."""

    kind: str
    driver: Any
    plugin: str

    @property
    def name(self) -> str:
        """The driver's declared name."""
        return str(self.driver.name)

    @property
    def environments(self) -> frozenset[EnvironmentName]:
        """The environments the driver declared."""
        return frozenset(self.driver.environments)


class PluginSet:
    """The loaded plugins of one platform and the drivers they registered."""

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.pm = pluggy.PluginManager("wattbridge")
        self.pm.add_hookspecs(hookspecs)
        self.info: dict[str, PluginInfo] = {}
        self.drivers: dict[str, dict[str, RegisteredDriver]] = {
            k: {} for k in DRIVER_HOOKS.values()
        }

    # -- loading ---------------------------------------------------------

    @classmethod
    def discover(
        cls,
        load: Sequence[str] | None = None,
        disabled: Iterable[str] = (),
        strict: bool = False,
        extra: Iterable[tuple[str, object]] = (),
    ) -> PluginSet:
        """Load entry-point plugins (all, or only ``load``), minus ``disabled``.

        :param extra: ``(name, plugin object)`` pairs registered directly, for
            embedders and tests that provide plugins without packaging them.
        """
        plugins = cls(strict=strict)
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        versions = {ep.name: _version(ep) for ep in entry_points}
        available = sorted(versions)
        skip = set(disabled)
        if load is not None:
            missing = [n for n in load if n not in available]
            if missing:
                plugins._fail(
                    missing[0],
                    None,
                    f"plugin {missing[0]!r} is not installed; installed: {', '.join(available)}",
                )
            names = [n for n in load if n in available and n not in skip]
        else:
            names = [n for n in available if n not in skip]
        if names:
            manager: Any = NamedExtensionManager(
                ENTRY_POINT_GROUP,
                names=names,
                invoke_on_load=False,
                on_load_failure_callback=plugins._on_load_failure,
                name_order=True,
            )
            for ext in manager.extensions:
                plugins.add(ext.name, ext.plugin, versions.get(ext.name))
        for name, obj in extra:
            plugins.add(name, obj, None)
        plugins.collect_drivers()
        return plugins

    def _on_load_failure(self, _manager: object, entry_point: Any, exc: BaseException) -> None:
        self._fail(entry_point.name, _version(entry_point), f"import failed: {exc!r}", entry_point)

    def _fail(self, name: str, version: str | None, message: str, entry_point: Any = None) -> None:
        if self.strict:
            raise PluginLoadError(f"plugin {name!r}: {message}")
        log.warning("plugin %s skipped: %s", name, message)
        module = getattr(entry_point, "value", None)
        self.info[name] = PluginInfo(name, version, module, error=message)

    def add(self, name: str, plugin: object, version: str | None) -> None:
        """Register one plugin object; a misspelt or mis-signed hook rejects it."""
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self._fail(name, version, f"invalid plugin: {exc}")
            return
        hooks = sorted(impl.name for impl in (self.pm.get_hookcallers(plugin) or []))
        self.info[name] = PluginInfo(name, version, module, hooks=hooks)

    def collect_drivers(self) -> None:
        """Call every driver-registering hook, one plugin at a time (for attribution)."""
        for hook_name, kind in DRIVER_HOOKS.items():
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():
                self._collect_from(impl, kind)

    def _collect_from(self, impl: Any, kind: str) -> None:
        plugin = impl.plugin_name
        collected: list[RegisteredDriver] = []

        def register(driver: object) -> None:
            _check_driver(driver, kind)
            name = str(cast(Driver, driver).name)
            if name in self.drivers[kind] or any(d.name == name for d in collected):
                owner = self.drivers[kind][name].plugin if name in self.drivers[kind] else plugin
                raise ValueError(f"{kind} {name!r} is already registered by plugin {owner!r}")
            collected.append(RegisteredDriver(kind, driver, plugin))

        try:
            impl.function(register=register)
        except Exception as exc:  # a third-party plugin's bug must not stop the server
            self._fail(plugin, self.info[plugin].version, f"{impl.function.__name__} failed: {exc}")
            return
        for item in collected:
            self.drivers[kind][item.name] = item
            self.info[plugin].drivers.append(
                {"kind": kind, "name": item.name, "environments": sorted(item.environments)}
            )

    # -- use ---------------------------------------------------------------

    def select(
        self, kind: str, names: Sequence[str] | None, environment: EnvironmentName
    ) -> list[RegisteredDriver]:
        """The drivers of ``kind`` configured for ``environment``, failing closed.

        ``names`` None means every installed driver of the kind that declares
        the environment. A named driver that does not declare it, or does not
        exist, is a :class:`PluginSelectionError` naming both.
        """
        registered = self.drivers[kind]
        if names is None:
            return [d for d in registered.values() if environment in d.environments]
        chosen = []
        for name in names:
            if name not in registered:
                available = ", ".join(sorted(registered)) or "none installed"
                raise PluginSelectionError(
                    f"{environment}: {kind} {name!r} is not available; available: {available}"
                )
            driver = registered[name]
            if environment not in driver.environments:
                declared = ", ".join(sorted(driver.environments)) or "none"
                raise PluginSelectionError(
                    f"{kind} {name!r} (plugin {driver.plugin!r}) cannot serve the {environment} "
                    f"environment: it declares only {declared}"
                )
            chosen.append(driver)
        return chosen

    def call_prepare_storage(self, db: object, environment: EnvironmentName) -> None:
        """Let every plugin migrate its own tables in an environment database."""
        self.pm.hook.prepare_storage(db=db, environment=environment)

    def call_register_commands(self, cli: object) -> None:
        """Let plugins add CLI commands."""
        self.pm.hook.register_commands(cli=cli)

    def describe(self) -> list[dict[str, Any]]:
        """Every plugin, as ``wattbridge plugins --json`` prints it."""
        return [attrs.asdict(info) for _, info in sorted(self.info.items())]


def _check_driver(driver: object, kind: str) -> None:
    if not isinstance(driver, Driver):
        raise ValueError(f"{kind} {driver!r} must have 'name' and 'environments' attributes")
    envs = set(driver.environments)
    if not envs <= {"sandbox", "live"}:
        raise ValueError(
            f"{kind} {driver.name!r} declares unknown environments {sorted(envs)}; "
            "use 'sandbox' and/or 'live'"
        )


def _version(entry_point: Any) -> str | None:
    dist = getattr(entry_point, "dist", None)
    return None if dist is None else str(dist.version)


def only(drivers: list[RegisteredDriver], kind: str, environment: str) -> Callable[[], Any]:
    """Wrap a single-driver selection in a getter that explains an absence on use."""

    def get() -> Any:
        if not drivers:
            raise PluginSelectionError(f"{environment}: no {kind} is available")
        return drivers[0].driver

    return get
