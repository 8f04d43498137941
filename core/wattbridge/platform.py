"""The one way in: :class:`Platform` opens a data dir and offers every operation.

The HTTP API, the CLI and embedders all go through a Platform. It owns the
control database (projects, keys), one :class:`Environment` per environment,
the plugins, and the clock.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from wattbridge.clock import Clock, SystemClock
from wattbridge.config import Config
from wattbridge.drivers.base import ENVIRONMENTS, EnvironmentName
from wattbridge.environments import Environment
from wattbridge.errors import ConfigurationError
from wattbridge.plugins import PluginSet
from wattbridge.services.access import AccessService, IssuedKey, Principal
from wattbridge.store.control import CONTROL_DB_FILE, ControlStore, PlanStore
from wattbridge.store.sqlite import Database

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from wattbridge.api.access_log import AccessLog

SECRET_FILE = "server.secret"
DEFAULT_PROJECT = "default"


class Platform:
    """wattbridge opened on a data directory."""

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        config: Config | None = None,
        clock: Clock | None = None,
        plugins: PluginSet | None = None,
        extra_plugins: Iterable[tuple[str, object]] = (),
        create: bool = True,
    ) -> None:
        """Open (and with ``create``, initialise) a data directory.

        :param config: defaults to :meth:`Config.load` from the environment.
        :param plugins: an already loaded plugin set; by default entry points
            are discovered as configured, plus ``extra_plugins``.
        :raises ConfigurationError: missing data dir (without ``create``),
            unusable plugin selection.
        """
        self.config = config or Config.load()
        self.data_dir = Path(data_dir if data_dir is not None else self.config.data_dir)
        if not self.data_dir.is_dir():
            if not create:
                raise ConfigurationError(
                    f"data dir {self.data_dir} does not exist; start the server once with "
                    "'wattbridge serve --data-dir ...' or pass the right --data-dir"
                )
            self.data_dir.mkdir(parents=True, exist_ok=True)
        self.clock: Clock = clock or SystemClock()
        self.plugins = plugins or PluginSet.discover(
            load=self.config.load_plugins,
            disabled=self.config.disabled_plugins,
            strict=self.config.strict_plugins,
            extra=extra_plugins,
        )
        self.control_db = Database(self.data_dir / CONTROL_DB_FILE)
        self._secret = self._server_secret()
        self.access = AccessService(
            ControlStore(self.control_db),
            self.clock,
            self._secret,
            self.config.key_prefixes,
        )
        self.environments: dict[EnvironmentName, Environment] = {
            name: Environment(
                name,
                self.data_dir,
                self.config.environment(name),
                self.plugins,
                self.clock,
                PlanStore(self.control_db),
            )
            for name in ENVIRONMENTS
        }

    def _server_secret(self) -> bytes:
        # Keys are stored as HMACs under this secret: a copy of the databases
        # without this file cannot be used to test guessed keys offline.
        path = self.data_dir / SECRET_FILE
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return bytes.fromhex(path.read_text().strip())

    def derived_key(self, purpose: bytes) -> bytes:
        """A 32-byte key for one ``purpose`` (e.g. signing report links), derived from
        the installation's secret. Each purpose gets its own key, so a signature made
        for one purpose can never be replayed as another."""
        return hmac.new(self._secret, purpose, hashlib.sha256).digest()

    def environment(self, name: EnvironmentName) -> Environment:
        """The environment called ``name``."""
        return self.environments[name]

    def authenticate(self, presented_key: str | None) -> tuple[Principal, Environment]:
        """Resolve an API key to its principal and environment."""
        principal = self.access.authenticate(presented_key)
        return principal, self.environments[principal.environment]

    def bootstrap(self) -> IssuedKey | None:
        """On an empty data dir, create the default project and a sandbox key."""
        if self.access.store.list_projects():
            return None
        project = self.access.create_project(DEFAULT_PROJECT)
        return self.access.issue_key(project.id, "sandbox")

    def asgi_app(self, access_log: AccessLog | None = None) -> Starlette:
        """The HTTP API (and Link UI) as an ASGI app that can be mounted elsewhere.

        :param access_log: a buffered access log (``serve`` passes one); by
            default each request is a record on the ``wattbridge.access`` logger.
        """
        from wattbridge.api.app import create_app

        return create_app(self, access_log=access_log)

    def close(self) -> None:
        """Close every database."""
        for env in self.environments.values():
            env.close()
        self.control_db.close()
