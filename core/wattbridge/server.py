"""``wattbridge serve``: one process with the API, the Link UI and the workers."""

from __future__ import annotations

import logging
from collections.abc import Callable

import uvicorn

from wattbridge.config import Config
from wattbridge.platform import Platform

log = logging.getLogger("wattbridge")


def serve(config: Config, echo: Callable[[str], None] = print) -> None:
    """Open the data dir, print a first key if it is new, and serve until stopped."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    platform = Platform(config=config)
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
    echo(f"wattbridge listening on http://{config.host}:{config.port} (data: {platform.data_dir})")
    # uvicorn's access log prints query strings; ours (in the app) does not,
    # so that a key someone wrongly put in a URL never reaches a log file.
    uvicorn.run(
        platform.asgi_app(),
        host=config.host,
        port=config.port,
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
    platform.close()
