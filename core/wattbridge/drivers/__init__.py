"""What plugins register: the driver protocols, one module per kind.

A *driver* is an object a plugin hands to a ``register`` callback of a hook in
:mod:`wattbridge.hookspecs`. Every driver declares a ``name`` and the
``environments`` it may serve; the core selects drivers per environment from
configuration and refuses (fails closed) a driver that does not declare the
environment it was selected for.
"""

from wattbridge.drivers.base import ENVIRONMENTS, Driver, EnvironmentName

__all__ = ["ENVIRONMENTS", "Driver", "EnvironmentName"]
