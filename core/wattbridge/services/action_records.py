"""Converting stored device and action rows into what providers and clients see."""

from __future__ import annotations

from typing import Any

from wattbridge.clock import isoformat
from wattbridge.drivers.devices import ActionRef, DeviceRef, Quantity
from wattbridge.store.devices import ActionRow, DeviceRow


def device_ref(row: DeviceRow) -> DeviceRef:
    """What a provider is told about one of its devices."""
    return DeviceRef(
        id=row.id,
        type=row.type,  # type: ignore[arg-type]
        vendor=row.vendor,
        model=row.model,
        external_id=row.external_id,
        attributes=row.attributes,
    )


def action_ref(row: ActionRow, state: str | None = None) -> ActionRef:
    """What a provider is told about an action (optionally as if in ``state``)."""
    return ActionRef(
        id=row.id,
        command=row.command,
        parameters={
            name: Quantity(float(q["value"]), str(q["unit"])) for name, q in row.parameters.items()
        },
        start=row.start_at,
        end=row.end_at,
        state=state or row.state,
        created_at=row.created_at,
    )


def render_action(row: ActionRow) -> dict[str, Any]:
    """The API's action object (also the data of ``action.*`` events)."""
    error = None
    if row.error_code is not None:
        error = {"code": row.error_code, "message": row.error_message or row.error_code}
    control = None
    if row.control is not None:
        control = {key: row.control.get(key) for key in ("outcome", "errorCode", "latency")}
    return {
        "id": row.id,
        "deviceId": row.device_id,
        "command": row.command,
        "parameters": row.parameters,
        "start": isoformat(row.start_at),
        "end": None if row.end_at is None else isoformat(row.end_at),
        "state": row.state,
        "createdAt": isoformat(row.created_at),
        "updatedAt": isoformat(row.updated_at),
        "error": error,
        "queuedAfter": row.after_action_id,
        "sandbox": control,
    }
