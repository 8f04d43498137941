"""Per-field rules that models declare and the converter enforces.

A model attaches one rule to a field with ``attrs.field(metadata=rule(...))``;
:mod:`wattbridge.serialization` checks it right after the value has the right
type, so a range error is reported with the field's ``$.path`` together with
every other problem of the request. Rules that relate several fields live with
their model's validator (e.g. :mod:`wattbridge.validation.scans`).
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

import attrs

__all__ = ["CONSTRAINT", "Constraint", "InvalidValue", "Length", "Range", "describe", "rule"]

CONSTRAINT = "wattbridge.constraint"
"""Field metadata key holding the field's :class:`Constraint`."""


class InvalidValue(ValueError):
    """A value that has the wrong type or breaks a rule; ``str()`` is the message."""


def describe(value: object) -> str:
    """Show a client's value in a message the way it looked in their JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


class Constraint:
    """A rule about one field's value; :meth:`check` raises :class:`InvalidValue`."""

    def check(self, value: Any) -> None:
        """Raise :class:`InvalidValue` when ``value`` breaks the rule."""
        raise NotImplementedError

    def describe(self) -> str:
        """The rule in words, for documentation and error messages."""
        raise NotImplementedError


@attrs.frozen
class Range(Constraint):
    """Inclusive (``ge``/``le``) or exclusive (``gt``/``lt``) bounds on a number."""

    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None

    def check(self, value: Any) -> None:
        """Raise :class:`InvalidValue` when ``value`` is outside the bounds."""
        inside = (
            (self.ge is None or value >= self.ge)
            and (self.le is None or value <= self.le)
            and (self.gt is None or value > self.gt)
            and (self.lt is None or value < self.lt)
        )
        if not inside:
            raise InvalidValue(f"must be {self.describe()}, got {_number(value)}")

    def describe(self) -> str:
        """Say the bounds the way a person would: "between 0 and 90"."""
        if self.ge is not None and self.le is not None:
            return f"between {_number(self.ge)} and {_number(self.le)}"
        parts = []
        if self.gt is not None:
            parts.append(f"greater than {_number(self.gt)}")
        if self.ge is not None:
            parts.append(f"at least {_number(self.ge)}")
        if self.lt is not None:
            parts.append(f"less than {_number(self.lt)}")
        if self.le is not None:
            parts.append(f"at most {_number(self.le)}")
        return " and ".join(parts)


@attrs.frozen
class Length(Constraint):
    """Bounds on the length of an array (entries) or a string (characters)."""

    min: int = 0
    max: int | None = None

    def check(self, value: Any) -> None:
        """Raise :class:`InvalidValue` when ``value`` is too short or too long."""
        assert isinstance(value, Sized)
        unit = "characters" if isinstance(value, str) else "entries"
        size = len(value)
        if size == 0 and self.min > 0:
            raise InvalidValue("must not be empty")
        if size < self.min:
            raise InvalidValue(f"must have at least {self.min} {unit}, got {size}")
        if self.max is not None and size > self.max:
            raise InvalidValue(f"must have at most {self.max} {unit}, got {size}")

    def describe(self) -> str:
        """Say the length bounds in words."""
        if self.max is None:
            return f"at least {self.min} long"
        return f"{self.min} to {self.max} long"


def rule(constraint: Constraint, **metadata: Any) -> dict[str, Any]:
    """Field metadata carrying ``constraint`` (plus any other metadata given)."""
    return {CONSTRAINT: constraint, **metadata}
