"""What every driver has in common: a name and the environments it serves."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

EnvironmentName = Literal["sandbox", "live"]
ENVIRONMENTS: tuple[EnvironmentName, ...] = ("sandbox", "live")


@runtime_checkable
class Driver(Protocol):
    """A named implementation contributed by a plugin.

    ``environments`` is a declaration, not a preference: a driver is never used
    in an environment it does not list, whatever the configuration says.
    """

    name: str
    environments: frozenset[EnvironmentName]
