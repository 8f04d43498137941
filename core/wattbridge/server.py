"""``wattbridge serve`` and ``wattbridge worker``: the long-running processes.

``serve`` runs the API, the Link UI and the background workers in one process;
``worker`` runs only the workers, so more of them can share a data dir.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

import uvicorn

from wattbridge.api.access_log import AccessLog
from wattbridge.config import Config
from wattbridge.errors import ConfigurationError
from wattbridge.platform import Platform
from wattbridge.workers import WorkerRunner, workers_for

log = logging.getLogger("wattbridge")

Echo = Callable[[str], None]


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _announce(platform: Platform, config: Config, echo: Echo) -> None:
    issued = platform.bootstrap()
    if issued is not None:
        echo("Created project 'default'. Your sandbox API key (shown once, keep it):")
        echo("")
        echo(f"    {issued.plaintext}")
        echo("")
        echo(
            f"Try: curl -H 'Authorization: Bearer {issued.plaintext}' "
            f"http://{config.host}:{config.port}/v1/me"
        )
    for plugin in platform.plugins.describe():
        if plugin["error"]:
            log.warning("plugin %s not loaded: %s", plugin["name"], plugin["error"])


def _open_access_log(config: Config) -> AccessLog:
    try:
        return AccessLog.open(config.access_log)
    except OSError as exc:
        raise ConfigurationError(
            f"access_log: cannot open {config.access_log!r} for writing ({exc.strerror}); "
            "give a writable file, '-' for stderr or 'off'"
        ) from None


def serve(config: Config, echo: Echo = print) -> None:
    """Open the data dir, print a first key if it is new, and serve until stopped."""
    _configure_logging()
    access_log = _open_access_log(config)
    platform = Platform(config=config)
    _announce(platform, config, echo)
    runner = WorkerRunner(workers_for(platform))
    runner.start()
    echo(f"wattbridge listening on http://{config.host}:{config.port} (data: {platform.data_dir})")
    try:
        # uvicorn's access log prints query strings; ours (api/access_log.py)
        # does not, so a key someone wrongly put in a URL never reaches a log file.
        uvicorn.run(
            platform.asgi_app(access_log=access_log),
            host=config.host,
            port=config.port,
            access_log=False,
            log_level="warning",
            lifespan="on",
        )
    finally:
        access_log.close()
        runner.stop()
        platform.close()


def run_workers(config: Config, echo: Echo = print) -> None:
    """Run the background workers alone until interrupted."""
    _configure_logging()
    platform = Platform(config=config, create=False)
    runner = WorkerRunner(workers_for(platform))
    runner.start()
    names = ", ".join(sorted({w.name for w in runner.workers})) or "none"
    echo(f"wattbridge workers running ({names}) on {platform.data_dir}; Ctrl-C to stop")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()
        platform.close()
