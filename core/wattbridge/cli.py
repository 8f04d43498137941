"""The ``wattbridge`` command-line tool.

Commands that touch data take ``--data-dir`` and ``--config``; list commands
take ``--json``. Errors are one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import functools
import json
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from wattbridge import __version__
from wattbridge.config import Config
from wattbridge.errors import ConfigurationError, WattbridgeError
from wattbridge.plugins import PluginSet

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str) -> None:
    raise click.ClickException(message)


def data_options(func: F) -> F:
    """Add ``--data-dir`` and ``--config`` to a command."""
    func = click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="TOML configuration file.",
    )(func)
    func = click.option(
        "--data-dir",
        type=click.Path(path_type=Path, file_okay=False),
        help="Data directory [default: ./.wattbridge or WATTBRIDGE_DATA_DIR].",
    )(func)
    return func


def _config(config_file: Path | None, **overrides: Any) -> Config:
    try:
        return Config.load(file=config_file, overrides=overrides)
    except ConfigurationError as exc:
        _fail(str(exc))
        raise  # unreachable; keeps type checkers content


def _open(data_dir: Path | None, config_file: Path | None, create: bool = False) -> Any:
    from wattbridge.platform import Platform

    config = _config(config_file, data_dir=str(data_dir) if data_dir else None)
    try:
        return Platform(config=config, create=create)
    except ConfigurationError as exc:
        _fail(str(exc))


def _handle_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WattbridgeError as exc:
            _fail(exc.message)
        except ConfigurationError as exc:
            _fail(str(exc))

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wattbridge")
def cli() -> None:
    """wattbridge: one API to energy devices and a solar + battery sizing solver."""


@cli.command()
@click.option("--host", help="Address to listen on [default: 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), help="Port [default: 8000].")
@data_options
@click.option(
    "--dev",
    is_flag=True,
    help="Development mode: allow private webhook targets "
    "in the sandbox (e.g. a receiver on localhost).",
)
@click.option(
    "--access-log",
    metavar="TARGET",
    help="Where to write one line per request: - (stderr), off, or a file [default: -].",
)
@_handle_errors
def serve(
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    config_file: Path | None,
    dev: bool,
    access_log: str | None,
) -> None:
    """Run the API and the background workers in one process."""
    from wattbridge.server import serve as run_server

    config = _config(
        config_file,
        host=host,
        port=port,
        access_log=access_log,
        data_dir=str(data_dir) if data_dir else None,
        **({"sandbox.private_webhook_targets": True} if dev else {}),
    )
    _check_port_free(config.host, config.port)
    run_server(config, echo=click.echo)


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            _fail(
                f"cannot listen on {host}:{port}: {exc.strerror}; choose another port with --port"
            )


@cli.command()
@data_options
@_handle_errors
def worker(data_dir: Path | None, config_file: Path | None) -> None:
    """Run only the background workers (status syncer, dispatcher, solver queue)."""
    from wattbridge.server import run_workers

    config = _config(config_file, data_dir=str(data_dir) if data_dir else None)
    run_workers(config, echo=click.echo)


@cli.group()
def keys() -> None:
    """Create, list and revoke API keys."""


@keys.command("create")
@click.option("--env", "environment", type=click.Choice(["sandbox", "live"]), required=True)
@click.option("--project", help="Project id or name [default: the only project, or 'default'].")
@click.option("--prefix", help="Key prefix (one of the configured prefixes) [default: sk].")
@data_options
@_handle_errors
def keys_create(
    environment: str,
    project: str | None,
    prefix: str | None,
    data_dir: Path | None,
    config_file: Path | None,
) -> None:
    """Issue a key and print it (only the key) on stdout. It is shown once."""
    platform = _open(data_dir, config_file)
    target = _default_project(platform, project)
    issued = platform.access.issue_key(target.id, environment, prefix)
    click.echo(issued.plaintext)
    click.echo(f"created {issued.record.id} for project {target.name} ({environment})", err=True)


def _default_project(platform: Any, name: str | None) -> Any:
    if name:
        return platform.access.project(name)
    projects = platform.access.store.list_projects()
    if len(projects) == 1:
        return projects[0]
    for project in projects:
        if project.name == "default":
            return project
    if not projects:
        return platform.access.create_project("default")
    _fail("several projects exist; choose one with --project")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_options
@_handle_errors
def keys_list(as_json: bool, data_dir: Path | None, config_file: Path | None) -> None:
    """List keys: id, hint, environment, project, created, revoked."""
    platform = _open(data_dir, config_file)
    names = {p.id: p.name for p in platform.access.store.list_projects()}
    rows = [
        {
            "id": k.id,
            "hint": k.hint,
            "environment": k.environment,
            "project": names.get(k.project_id),
            "projectId": k.project_id,
            "created": k.created_at,
            "revoked": k.revoked_at,
        }
        for k in platform.access.store.list_keys()
    ]
    _print_rows(rows, as_json, ["id", "hint", "environment", "project", "created", "revoked"])


@keys.command("revoke")
@click.argument("key_id")
@data_options
@_handle_errors
def keys_revoke(key_id: str, data_dir: Path | None, config_file: Path | None) -> None:
    """Revoke a key; it stops working on the next request."""
    platform = _open(data_dir, config_file)
    platform.access.revoke_key(key_id)
    click.echo(f"revoked {key_id}", err=True)


@cli.group()
def projects() -> None:
    """Create and list projects."""


@projects.command("create")
@click.argument("name")
@click.option("--live", is_flag=True, help="Enable live access for the project.")
@data_options
@_handle_errors
def projects_create(name: str, live: bool, data_dir: Path | None, config_file: Path | None) -> None:
    """Create a project (sandbox only unless --live)."""
    platform = _open(data_dir, config_file, create=True)
    project = platform.access.create_project(name, live_enabled=live)
    click.echo(project.id)


@projects.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_options
@_handle_errors
def projects_list(as_json: bool, data_dir: Path | None, config_file: Path | None) -> None:
    """List projects."""
    platform = _open(data_dir, config_file)
    rows = [
        {"id": p.id, "name": p.name, "liveEnabled": p.live_enabled, "created": p.created_at}
        for p in platform.access.store.list_projects()
    ]
    _print_rows(rows, as_json, ["id", "name", "liveEnabled", "created"])


@projects.command("set-plan")
@click.argument("project")
@click.option(
    "--credits-per-scan", type=click.IntRange(0, 1_000_000), help="Credits one live scan costs."
)
@click.option("--tier-limit", type=click.IntRange(min=0), help="Live scans per UTC month.")
@click.option("--no-tier-limit", is_flag=True, help="Remove the monthly limit.")
@click.option(
    "--hard-cap/--overage",
    default=None,
    help="At the limit, refuse further scans (429) or run them flagged as overage.",
)
@click.option(
    "--device-limit", type=click.IntRange(min=0), help="Connected live devices at most."
)
@click.option("--no-device-limit", is_flag=True, help="Remove the device limit.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_options
@_handle_errors
def projects_set_plan(
    project: str,
    credits_per_scan: int | None,
    tier_limit: int | None,
    no_tier_limit: bool,
    hard_cap: bool | None,
    device_limit: int | None,
    no_device_limit: bool,
    as_json: bool,
    data_dir: Path | None,
    config_file: Path | None,
) -> None:
    """Change a project's live plan (options not given stay) and print the plan."""
    from wattbridge.services.metering import describe_plan, revise_plan
    from wattbridge.store.control import PlanStore

    if no_tier_limit and tier_limit is not None:
        raise click.UsageError("give --tier-limit N or --no-tier-limit, not both")
    if no_device_limit and device_limit is not None:
        raise click.UsageError("give --device-limit N or --no-device-limit, not both")
    platform = _open(data_dir, config_file)
    target = platform.access.project(project)
    plans = PlanStore(platform.control_db)
    plan = revise_plan(
        plans.get(target.id),
        credits_per_scan=credits_per_scan,
        tier_limit=tier_limit,
        unlimited=no_tier_limit,
        hard_cap=hard_cap,
        device_limit=device_limit,
        unlimited_devices=no_device_limit,
    )
    plans.set(target.id, plan, platform.clock.now())
    if as_json:
        click.echo(json.dumps({"id": target.id, "name": target.name, **describe_plan(plan)}))
        return
    limit = "none" if plan.tier_limit is None else f"{plan.tier_limit} live scans per UTC month"
    at_limit = "refuse (429 SCAN_LIMIT_REACHED)" if plan.hard_cap else "run, flagged as overage"
    devices = (
        "none" if plan.device_limit is None else f"{plan.device_limit} connected live devices"
    )
    click.echo(f"project           {target.name} ({target.id})")
    click.echo(f"credits per scan  {plan.credits_per_scan}")
    click.echo(f"tier limit        {limit}")
    click.echo(f"over the limit    {at_limit}")
    click.echo(f"device limit      {devices}")


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False))
@_handle_errors
def plugins_command(as_json: bool, config_file: Path | None) -> None:
    """List installed plugins: version, hooks, drivers and their environments, errors."""
    config = _config(config_file)
    found = PluginSet.discover(
        load=config.load_plugins, disabled=config.disabled_plugins, strict=config.strict_plugins
    ).describe()
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for plugin in found:
        click.echo(f"{plugin['name']} {plugin['version'] or ''}".rstrip())
        if plugin["error"]:
            click.echo(f"  error: {plugin['error']}")
        if plugin["hooks"]:
            click.echo(f"  hooks: {', '.join(plugin['hooks'])}")
        for driver in plugin["drivers"]:
            envs = ", ".join(driver["environments"])
            click.echo(f"  {driver['kind']} {driver['name']} [{envs}]")


@cli.group()
def webhooks() -> None:
    """Tools for developing webhook receivers."""


@webhooks.command("listen")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=4242, show_default=True)
@click.option("--secret", envvar="WATTBRIDGE_WEBHOOK_SECRET",
              help="The endpoint's whsec_ secret; deliveries are verified with it.")
@_handle_errors
def webhooks_listen(host: str, port: int, secret: str | None) -> None:
    """Receive webhooks locally, verify their signatures and print each event."""
    from wattbridge.webhooks.listen import run_listen
    from wattbridge.webhooks.signing import decode_secret

    if secret is not None:
        try:
            decode_secret(secret)
        except ValueError as exc:
            _fail(f"--secret: {exc}")
    _check_port_free(host, port)
    run_listen(host, port, secret, click.echo)


def _print_rows(rows: list[dict[str, Any]], as_json: bool, columns: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    widths = {c: max([len(c), *(len(str(r.get(c) or "")) for r in rows)]) for c in columns}
    click.echo("  ".join(c.ljust(widths[c]) for c in columns).rstrip())
    for row in rows:
        click.echo("  ".join(str(row.get(c) or "").ljust(widths[c]) for c in columns).rstrip())


def main() -> None:
    """Entry point: add plugin commands, then run."""
    try:
        config = Config.load()
        PluginSet.discover(
            load=config.load_plugins,
            disabled=config.disabled_plugins,
        ).call_register_commands(cli)
    except ConfigurationError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    cli()
