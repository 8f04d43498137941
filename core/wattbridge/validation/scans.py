"""CreateScan validation, the same in every environment.

Two layers, both run on every request so that one answer lists every problem:

1. the converter checks shape, types, enums, unknown properties and the
   per-field ranges declared on :mod:`wattbridge.models.scans`;
2. :func:`_cross_field_errors` checks the rules that relate fields
   (``inputMethod`` ⇄ ``yearlyKwh``/``customProfileId``, the battery's
   capacity-or-range choice, ``minKwh ≤ maxKwh``) and the request-only rule that
   a PV array, when sent, has an entry. It reads the raw body
   defensively, skipping values the first layer already rejected.

Whether an environment can run studio scans at all is a separate question,
answered by :func:`check_studio_supported` *before* validation: its answer wins
over every validation error of the same request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from wattbridge.errors import FieldError, SandboxStudioUnsupported, ValidationFailed
from wattbridge.models.scans import ScanInput
from wattbridge.serialization import structure
from wattbridge.validation.constraints import describe

__all__ = [
    "STUDIO_UNSUPPORTED_MESSAGE",
    "check_studio_supported",
    "is_studio_request",
    "validate_scan_input",
]

STUDIO_UNSUPPORTED_MESSAGE = (
    "Sandbox does not support studio scans. Remove customProfileId and set inputMethod to 'known'."
)


def is_studio_request(raw: object) -> bool:
    """True when a raw CreateScan body asks for a studio scan in any way.

    Key presence counts: ``"customProfileId": null`` is still an attempt to use a
    custom profile.
    """
    return isinstance(raw, Mapping) and (
        "customProfileId" in raw or raw.get("inputMethod") == "studio"
    )


def check_studio_supported(raw: object, *, supported: bool) -> None:
    """Refuse a studio request when the environment's solver cannot run studio scans.

    Run it before :func:`validate_scan_input`: this answer wins over any
    validation error of the same body.

    :raises SandboxStudioUnsupported: when ``supported`` is false and ``raw`` asks
        for a studio scan.
    """
    if not supported and is_studio_request(raw):
        raise SandboxStudioUnsupported(STUDIO_UNSUPPORTED_MESSAGE)


def validate_scan_input(raw: object) -> ScanInput:
    """Validate a JSON-decoded CreateScan body and return the solver's input.

    :raises ValidationFailed: listing every problem, each with its ``$.path``.
    """
    errors: list[FieldError] = []
    scan: ScanInput | None = None
    try:
        scan = structure(raw, ScanInput)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if isinstance(raw, Mapping):
        reported = {error.path for error in errors}
        errors.extend(e for e in _cross_field_errors(raw) if e.path not in reported)
    if errors or scan is None:
        raise ValidationFailed(errors)
    if scan.input_method == "studio":
        # The custom profile defines the load shape; no standard profile applies.
        return attrs.evolve(scan, load_profile=None)
    if scan.load_profile is None:
        # An explicit null means "not given": the documented default applies.
        return attrs.evolve(scan, load_profile="standard")
    return scan


def _cross_field_errors(raw: Mapping[str, Any]) -> Iterator[FieldError]:
    for key in ("existingPv", "newPv"):
        if raw.get(key) == []:
            yield FieldError(
                f"$.{key}", "must not be empty; leave the property out when there is none"
            )
    yield from _input_method_errors(raw)
    battery = raw.get("electricBattery")
    if isinstance(battery, Mapping):
        yield from _battery_errors(battery)


def _given(data: Mapping[str, Any], key: str) -> bool:
    # An explicit null means "not given" for optional properties.
    return data.get(key) is not None


def _input_method_errors(raw: Mapping[str, Any]) -> Iterator[FieldError]:
    method = raw.get("inputMethod")
    if method == "known":
        if not _given(raw, "yearlyKwh"):
            yield FieldError("$.yearlyKwh", "required when inputMethod is 'known'")
        if _given(raw, "customProfileId"):
            yield FieldError(
                "$.customProfileId",
                "only allowed when inputMethod is 'studio'; "
                "remove it or set inputMethod to 'studio'",
            )
    elif method == "studio":
        if not _given(raw, "customProfileId"):
            yield FieldError("$.customProfileId", "required when inputMethod is 'studio'")
        if _given(raw, "yearlyKwh"):
            yield FieldError(
                "$.yearlyKwh",
                "not allowed when inputMethod is 'studio'; it comes from the custom profile",
            )
        if _given(raw, "loadProfile"):
            yield FieldError(
                "$.loadProfile",
                "not allowed when inputMethod is 'studio'; the custom profile gives the load",
            )


def _battery_errors(battery: Mapping[str, Any]) -> Iterator[FieldError]:
    path = "$.electricBattery"
    fixed = _given(battery, "capacityKwh")
    has_min, has_max = _given(battery, "minKwh"), _given(battery, "maxKwh")
    if fixed and (has_min or has_max):
        yield FieldError(
            f"{path}.capacityKwh",
            "give either capacityKwh (a fixed battery) or minKwh and maxKwh "
            "(a battery to size), not both",
        )
    elif not fixed and not has_min and not has_max:
        yield FieldError(
            path,
            "give either capacityKwh (a fixed battery) or minKwh and maxKwh (a battery to size)",
        )
    elif has_min != has_max:
        missing = "maxKwh" if has_min else "minKwh"
        present = "minKwh" if has_min else "maxKwh"
        yield FieldError(f"{path}.{missing}", f"required together with {present}")
    elif has_min and has_max:
        low, high = battery["minKwh"], battery["maxKwh"]
        if _is_number(low) and _is_number(high) and low > high:
            yield FieldError(
                f"{path}.minKwh",
                f"must not exceed maxKwh ({describe(high)}), got {describe(low)}",
            )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
