"""wattbridge: one API to energy devices and a solar + battery sizing solver.

Public names for embedders and plugin authors:

- :data:`hookimpl` marks a plugin's hook implementations;
- :class:`Platform` (``wattbridge.platform``) opens a data dir and serves the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

hookimpl = pluggy.HookimplMarker("wattbridge")

__version__ = "0.1.0"

if TYPE_CHECKING:
    from wattbridge.platform import Platform

__all__ = ["Platform", "__version__", "hookimpl"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that plugins importing ``hookimpl`` do not pull in the
    # whole server (and cannot create an import cycle with it).
    if name == "Platform":
        from wattbridge.platform import Platform

        return Platform
    raise AttributeError(f"module 'wattbridge' has no attribute {name!r}")
