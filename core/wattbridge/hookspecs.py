"""The hook specifications: the whole plugin API of wattbridge, spec only.

A plugin is a module (or object) with functions decorated by
``wattbridge.hookimpl`` whose names match the specs below, made discoverable
through the ``wattbridge`` entry-point group. Drivers are handed to the
``register`` callbacks; the core rejects duplicate names and remembers which
plugin registered what. docs/plugin-hooks.md documents each signature, and a
test keeps that page and this module in step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click
    import sqlite_utils

    from wattbridge.drivers.billing import BillingSink
    from wattbridge.drivers.devices import DeviceProvider
    from wattbridge.drivers.scans import ScanSolver
    from wattbridge.drivers.webhooks import WebhookTransport

hookspec = pluggy.HookspecMarker("wattbridge")


@hookspec
def register_device_providers(register: Callable[[DeviceProvider], None]) -> None:
    """Register device providers: OEM adapters and simulators.

    :param register: call it once per :class:`~wattbridge.drivers.devices.DeviceProvider`.
    Contract: return nothing; a provider name must be unique across all plugins.
    """


@hookspec
def register_scan_solvers(register: Callable[[ScanSolver], None]) -> None:
    """Register scan solvers.

    :param register: call it once per :class:`~wattbridge.drivers.scans.ScanSolver`.
    Contract: return nothing; a solver name must be unique across all plugins.
    """


@hookspec
def register_webhook_transports(register: Callable[[WebhookTransport], None]) -> None:
    """Register webhook transports.

    :param register: call it once per :class:`~wattbridge.drivers.webhooks.WebhookTransport`.
    Contract: return nothing; a transport name must be unique across all plugins.
    """


@hookspec
def register_billing_sinks(register: Callable[[BillingSink], None]) -> None:
    """Register billing sinks that receive usage events of metered scans.

    :param register: call it once per :class:`~wattbridge.drivers.billing.BillingSink`.
    Contract: return nothing; a sink name must be unique across all plugins.
    """


@hookspec
def prepare_storage(db: sqlite_utils.Database, environment: str) -> None:
    """Apply the plugin's own migrations to an environment's database.

    :param db: the environment's database, opened by the core.
    :param environment: ``"sandbox"`` or ``"live"``.
    Contract: idempotent (use ``sqlite_utils.Migrations``); return nothing.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``wattbridge`` command-line tool.

    :param cli: the root click group; call ``cli.command()`` or ``cli.add_command``.
    Contract: return nothing; do not replace built-in commands.
    """


# Names a hook implementation may use, for tools that check plugins.
HOOK_NAMES: tuple[str, ...] = (
    "register_device_providers",
    "register_scan_solvers",
    "register_webhook_transports",
    "register_billing_sinks",
    "prepare_storage",
    "register_commands",
)
