"""Device records and their actions: the ``devices`` and ``actions`` tables.

Devices are scoped by project (the database file is the environment). Actions
carry an indexed ``due_at``: the instant the action worker must next look at
them (start a scheduled one, finish an acknowledged one). The index is partial
(only unfinished actions), so a worker pass costs O(due), not O(table). Workers
claim rows with a lease (``locked_until`` + ``claim_token``); a claim whose
lease ran out can be taken again.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs
import orjson
from sqlite_utils import Migrations

from wattbridge.clock import isoformat
from wattbridge.store.generations import Generation, add_generation
from wattbridge.store.sqlite import Database, Row

migrations = Migrations("wattbridge.devices")

ACTIVE_STATES = ("scheduled", "acknowledged")


@migrations()
def m001_devices_actions(db):  # type: ignore[no-untyped-def]
    db.execute(
        """
        CREATE TABLE devices (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            external_id TEXT NOT NULL,
            type TEXT NOT NULL,
            vendor TEXT NOT NULL,
            model TEXT NOT NULL,
            user_id TEXT NOT NULL,
            attributes TEXT NOT NULL,
            created_at TEXT NOT NULL,
            disconnected_at TEXT,
            last_state TEXT,
            last_pulled_at TEXT
        )
        """
    )
    db.execute(
        "CREATE INDEX devices_project ON devices (project_id, created_at, id)"
        " WHERE disconnected_at IS NULL"
    )
    db.execute("CREATE INDEX devices_external ON devices (project_id, provider, external_id)")
    db.execute(
        """
        CREATE TABLE actions (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL,
            device_id TEXT NOT NULL REFERENCES devices (id),
            command TEXT NOT NULL,
            parameters TEXT NOT NULL,
            start_at TEXT NOT NULL,
            end_at TEXT,
            state TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            control TEXT,
            outcome TEXT,
            error_code TEXT,
            error_message TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            after_action_id TEXT,
            due_at TEXT,
            locked_until TEXT,
            claim_token TEXT
        )
        """
    )
    db.execute("CREATE INDEX actions_device ON actions (device_id, created_at, id)")
    db.execute(
        "CREATE INDEX actions_due ON actions (due_at)"
        " WHERE state IN ('scheduled', 'acknowledged') AND due_at IS NOT NULL"
    )
    db.execute("CREATE INDEX actions_after ON actions (after_action_id)"
               " WHERE after_action_id IS NOT NULL")


@migrations()
def m002_actions_by_start(db):  # type: ignore[no-untyped-def]
    # Reads hand a device's newest actions by start to its provider (bounded).
    db.execute("CREATE INDEX actions_device_start ON actions (device_id, start_at)")


@migrations()
def m003_devices_generation(db):  # type: ignore[no-untyped-def]
    # Remembered device reads depend on these two tables only (DeviceStore.revision).
    add_generation(db, "devices", ("devices", "actions"))


def _time(value: str | None) -> datetime | None:
    # Stored instants are always our own ISO form with "Z", which fromisoformat
    # reads as UTC: no need for parse_instant's checks of client input.
    return None if value is None else datetime.fromisoformat(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else isoformat(value)


@attrs.frozen
class DeviceRow:
    """A stored device."""

    id: str
    project_id: str
    provider: str
    external_id: str
    type: str
    vendor: str
    model: str
    user_id: str
    attributes: dict[str, Any]
    created_at: datetime
    disconnected_at: datetime | None
    last_state: dict[str, Any] | None
    last_pulled_at: datetime | None


def _device(row: Row) -> DeviceRow:
    return DeviceRow(
        **{
            **row,
            "attributes": orjson.loads(row["attributes"]),
            "created_at": datetime.fromisoformat(row["created_at"]),
            "disconnected_at": _time(row["disconnected_at"]),
            "last_state": None if row["last_state"] is None else orjson.loads(row["last_state"]),
            "last_pulled_at": _time(row["last_pulled_at"]),
        }
    )


@attrs.frozen
class ActionRow:
    """A stored action; ``parameters`` are ``{name: {"value", "unit"}}``."""

    id: str
    project_id: str
    device_id: str
    command: str
    parameters: dict[str, dict[str, Any]]
    start_at: datetime
    end_at: datetime | None
    state: str
    created_at: datetime
    updated_at: datetime
    control: dict[str, Any] | None
    outcome: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    attempts: int
    after_action_id: str | None
    due_at: datetime | None
    locked_until: datetime | None
    claim_token: str | None


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


@attrs.frozen
class ReadActions:
    """The actions a device read needs, fetched with it in one query.

    ``projected``: the newest ``limit`` actions in the given states that start by
    the read's instant, oldest start first (ties in creation order), for the
    provider; ``latest``: the device's newest action, for ``lastAction``.
    """

    projected: list[ActionRow]
    latest: ActionRow | None
    next_start: datetime | None = None
    """The earliest start after the read's instant of an action in the given
    states (None: there is none; only :meth:`DeviceStore.get_for_read` asks for
    it). Until then, while no action changes, ``projected`` is also the answer
    for any later instant."""


_ACTION_COLUMNS = tuple(a.name for a in attrs.fields(ActionRow))
"""The actions table's columns, in :class:`ActionRow` order."""
_JSON_COLUMNS = ("parameters", "control", "outcome")
_ACTION_ARRAY = (
    "json_array("
    + ", ".join(f"json({c})" if c in _JSON_COLUMNS else c for c in _ACTION_COLUMNS)
    + ", rowid)"
)
"""An action row as one JSON array: its columns in :data:`_ACTION_COLUMNS` order (JSON
columns embedded as values), then its rowid. Arrays, not objects: a device read
decodes them on every request, and keys would double the work."""

_START, _CREATED, _ROWID = (
    _ACTION_COLUMNS.index("start_at"), _ACTION_COLUMNS.index("created_at"), len(_ACTION_COLUMNS)
)


@functools.cache
def _read_actions_select(state_count: int, next_start: bool) -> str:
    marks = ", ".join("?" for _ in range(state_count))
    select = (
        f"(SELECT json_group_array({_ACTION_ARRAY}) FROM (SELECT rowid, * FROM actions"
        f" WHERE device_id = d.id AND start_at <= ? AND state IN ({marks})"
        " ORDER BY start_at DESC, created_at DESC, rowid DESC LIMIT ?)) AS projected,"
        f" (SELECT {_ACTION_ARRAY} FROM actions WHERE device_id = d.id"
        " ORDER BY created_at DESC, rowid DESC LIMIT 1) AS latest"
    )
    if next_start:
        select += (
            ", (SELECT min(start_at) FROM actions"
            f" WHERE device_id = d.id AND start_at > ? AND state IN ({marks})) AS next_start"
        )
    return select


def _read_actions_sql(
    at: datetime, states: Sequence[str], limit: int, next_start: bool = False
) -> tuple[str, list[Any]]:
    """The sub-selects of :class:`ReadActions` (``projected``, ``latest`` and, when
    asked for, ``next_start``) of the device ``d.id``, and their parameters.

    A read costs one statement, not three or four: every statement costs a round
    of the SQLite driver, and on a worker thread a handover of the GIL.
    """
    instant = isoformat(at)
    params: list[Any] = [instant, *states, limit]
    if next_start:
        params += [instant, *states]
    return _read_actions_select(len(states), next_start), params


def _action_of(values: list[Any]) -> ActionRow:
    """An action from its values in :data:`_ACTION_COLUMNS` order, JSON columns decoded
    (the :data:`_ACTION_ARRAY` form; its trailing rowid is ignored)."""
    (id_, project_id, device_id, command, parameters, start_at, end_at, state, created_at,
     updated_at, control, outcome, error_code, error_message, attempts, after_action_id,
     due_at, locked_until, claim_token) = values[:_ROWID]
    return ActionRow(
        id_, project_id, device_id, command, parameters, datetime.fromisoformat(start_at),
        _time(end_at), state, datetime.fromisoformat(created_at),
        datetime.fromisoformat(updated_at), control, outcome, error_code, error_message,
        attempts, after_action_id, _time(due_at), _time(locked_until),
        claim_token,
    )


def _action(row: Row) -> ActionRow:
    """An action from its row (JSON columns still text)."""
    return _action_of([
        orjson.loads(row[c]) if c in _JSON_COLUMNS and row[c] is not None else row[c]
        for c in _ACTION_COLUMNS
    ])


def _read_actions(row: Row) -> ReadActions:
    """Decode the ``projected``, ``latest`` and ``next_start`` columns of a read query."""
    raw: list[list[Any]] = orjson.loads(row.pop("projected"))
    raw.sort(key=lambda a: (a[_START], a[_CREATED], a[_ROWID]))
    projected = [_action_of(a) for a in raw]
    latest_raw = row.pop("latest")
    next_start = _time(row.pop("next_start", None))
    if latest_raw is None:
        return ReadActions(projected, None, next_start)
    latest: list[Any] = orjson.loads(latest_raw)
    # Usually the newest action is also the newest started one: decode it once.
    same = next((a for a in reversed(projected) if a.id == latest[0]), None)
    return ReadActions(projected, same or _action_of(latest), next_start)


def _read_device(row: Row) -> tuple[DeviceRow, ReadActions]:
    """A device and its actions from a row of a read query (:func:`_read_actions_sql`)."""
    actions = _read_actions(row)  # takes its columns out of the row first
    return _device(row), actions


class DeviceStore:
    """Repository of the devices of one environment."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.revision = Generation(db, "devices")
        """Changes whenever a device or an action changes (a revision for caches of reads)."""

    def insert(self, device: DeviceRow) -> None:
        """Store a new device (inside the caller's transaction)."""
        self.db.execute(
            "INSERT INTO devices (id, project_id, provider, external_id, type, vendor, model,"
            " user_id, attributes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                device.id, device.project_id, device.provider, device.external_id,
                device.type, device.vendor, device.model, device.user_id,
                _json(device.attributes), isoformat(device.created_at),
            ),
        )

    def get(self, project_id: str, device_id: str) -> DeviceRow | None:
        """A connected device of a project."""
        row = self.db.query_one(
            "SELECT * FROM devices WHERE id = ? AND project_id = ? AND disconnected_at IS NULL",
            (device_id, project_id),
        )
        return None if row is None else _device(row)

    def get_any(self, device_id: str) -> DeviceRow | None:
        """A device by id, disconnected or not (workers finishing its actions)."""
        row = self.db.query_one("SELECT * FROM devices WHERE id = ?", (device_id,))
        return None if row is None else _device(row)

    def get_for_read(
        self, project_id: str, device_id: str, at: datetime, states: Sequence[str], limit: int
    ) -> tuple[DeviceRow, ReadActions] | None:
        """A connected device with the actions a read at ``at`` needs (``next_start``
        included), in one query."""
        actions_sql, params = _read_actions_sql(at, states, limit, next_start=True)
        row = self.db.query_one(
            f"SELECT d.*, {actions_sql} FROM devices d"
            " WHERE d.id = ? AND d.project_id = ? AND d.disconnected_at IS NULL",
            [*params, device_id, project_id],
        )
        return None if row is None else _read_device(row)

    def find_linked(self, project_id: str, provider: str, external_id: str) -> DeviceRow | None:
        """The connected device of a project with this provider's external id."""
        row = self.db.query_one(
            "SELECT * FROM devices WHERE project_id = ? AND provider = ? AND external_id = ?"
            " AND disconnected_at IS NULL",
            (project_id, provider, external_id),
        )
        return None if row is None else _device(row)

    def count_connected(self, project_id: str) -> int:
        """How many connected devices a project has (for plan limits)."""
        return self.db.count(
            "SELECT count(*) FROM devices WHERE project_id = ? AND disconnected_at IS NULL",
            (project_id,),
        )

    def list(
        self,
        project_id: str,
        limit: int,
        offset: int,
        device_type: str | None,
        user_id: str | None,
        read: tuple[datetime, Sequence[str], int],
    ) -> tuple[list[tuple[DeviceRow, ReadActions]], int]:
        """A page of connected devices, oldest first, each with the actions a read
        needs (``read``: the instant, states and limit of :meth:`get_for_read`), and the total.
        """
        where, params = "project_id = ? AND disconnected_at IS NULL", [project_id]
        if device_type is not None:
            where += " AND type = ?"
            params.append(device_type)
        if user_id is not None:
            where += " AND user_id = ?"
            params.append(user_id)
        total = self.db.count(f"SELECT count(*) FROM devices WHERE {where}", params)
        actions_sql, action_params = _read_actions_sql(*read)
        rows = self.db.query(
            f"SELECT d.*, {actions_sql} FROM devices d WHERE {where}"
            " ORDER BY created_at, rowid LIMIT ? OFFSET ?",
            [*action_params, *params, limit, offset],
        )
        return [_read_device(row) for row in rows], total

    def disconnect(self, project_id: str, device_id: str, at: datetime) -> bool:
        """Mark a device disconnected; False when it was not connected."""
        return (
            self.db.execute(
                "UPDATE devices SET disconnected_at = ? WHERE id = ? AND project_id = ?"
                " AND disconnected_at IS NULL",
                (isoformat(at), device_id, project_id),
            )
            > 0
        )

    def remember_state(self, device_id: str, state: dict[str, Any], pulled_at: datetime) -> None:
        """Keep the last state read from the OEM (cache and fallback)."""
        self.db.execute(
            "UPDATE devices SET last_state = ?, last_pulled_at = ? WHERE id = ?",
            (_json(state), isoformat(pulled_at), device_id),
        )


class ActionStore:
    """Repository of the actions of one environment."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def insert(self, action: ActionRow) -> None:
        """Store a new action (inside the caller's transaction)."""
        self.db.execute(
            "INSERT INTO actions (id, project_id, device_id, command, parameters, start_at,"
            " end_at, state, created_at, updated_at, control, after_action_id, due_at,"
            " locked_until, claim_token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                action.id, action.project_id, action.device_id, action.command,
                _json(action.parameters), isoformat(action.start_at), _iso(action.end_at),
                action.state, isoformat(action.created_at), isoformat(action.updated_at),
                _json(action.control), action.after_action_id, _iso(action.due_at),
                _iso(action.locked_until), action.claim_token,
            ),
        )

    def get(self, project_id: str, action_id: str) -> ActionRow | None:
        """One action of a project."""
        row = self.db.query_one(
            "SELECT * FROM actions WHERE id = ? AND project_id = ?", (action_id, project_id)
        )
        return None if row is None else _action(row)

    def by_id(self, action_id: str) -> ActionRow | None:
        """An action by id, whatever its project (workers)."""
        row = self.db.query_one("SELECT * FROM actions WHERE id = ?", (action_id,))
        return None if row is None else _action(row)

    def list_for_device(
        self, device_id: str, limit: int, offset: int
    ) -> tuple[list[ActionRow], int]:
        """A page of a device's actions, newest first, and the total."""
        total = self.db.count("SELECT count(*) FROM actions WHERE device_id = ?", (device_id,))
        rows = self.db.query(
            "SELECT * FROM actions WHERE device_id = ? ORDER BY created_at DESC, rowid DESC"
            " LIMIT ? OFFSET ?",
            (device_id, limit, offset),
        )
        return [_action(r) for r in rows], total

    def for_read(
        self, device_id: str, at: datetime, states: Sequence[str], limit: int
    ) -> ReadActions:
        """The actions a read of the device at ``at`` needs (see :class:`ReadActions`)."""
        actions_sql, params = _read_actions_sql(at, states, limit)
        row = self.db.query_one(
            f"SELECT {actions_sql} FROM (SELECT ? AS id) d", [*params, device_id]
        )
        assert row is not None  # the one-row derived table always yields one row
        return _read_actions(row)

    def in_states(self, device_id: str, states: Sequence[str]) -> list[ActionRow]:
        """A device's actions in ``states``, oldest start first."""
        marks = ", ".join("?" for _ in states)
        rows = self.db.query(
            f"SELECT * FROM actions WHERE device_id = ? AND state IN ({marks})"
            " ORDER BY start_at, created_at, rowid",
            (device_id, *states),
        )
        return [_action(r) for r in rows]

    def waiting_on(self, action_id: str) -> list[ActionRow]:
        """Scheduled actions queued after ``action_id`` that have no start time yet."""
        rows = self.db.query(
            "SELECT * FROM actions WHERE after_action_id = ? AND state = 'scheduled'"
            " AND due_at IS NULL",
            (action_id,),
        )
        return [_action(r) for r in rows]

    def update(self, action_id: str, expected_token: str | None = None, **changes: Any) -> bool:
        """Change columns of an action; with ``expected_token``, only if the claim still holds.

        Datetimes and JSON values are encoded here. Returns whether a row changed.
        """
        columns: list[str] = []
        params: list[Any] = []
        for name, value in changes.items():
            columns.append(f"{name} = ?")
            if isinstance(value, datetime):
                params.append(isoformat(value))
            elif isinstance(value, dict):
                params.append(_json(value))
            else:
                params.append(value)
        where, extra = "id = ?", [action_id]
        if expected_token is not None:
            where += " AND claim_token = ?"
            extra.append(expected_token)
        sql = f"UPDATE actions SET {', '.join(columns)} WHERE {where}"
        return self.db.execute(sql, [*params, *extra]) > 0

    def any_due(self, now: datetime) -> bool:
        """Whether an unleased action is due: a plain read, so that an idle worker checks
        without taking the write lock (it claims inside a transaction after)."""
        return bool(self._due(now, 1))

    def claim_due(self, now: datetime, limit: int, lease_until: datetime, token: str) -> list[str]:
        """Claim up to ``limit`` due, unleased actions for a worker; return their ids.

        Call inside a write transaction so that two workers never claim the same row.
        """
        ids = self._due(now, limit)
        if ids:
            marks = ", ".join("?" for _ in ids)
            self.db.execute(
                f"UPDATE actions SET locked_until = ?, claim_token = ? WHERE id IN ({marks})",
                (isoformat(lease_until), token, *ids),
            )
        return ids

    def _due(self, now: datetime, limit: int) -> list[str]:
        """Ids of active, unleased actions whose due time has come, oldest due first."""
        stamp = isoformat(now)
        rows = self.db.query(
            "SELECT id FROM actions WHERE state IN ('scheduled', 'acknowledged')"
            " AND due_at IS NOT NULL AND due_at <= ?"
            " AND (locked_until IS NULL OR locked_until <= ?) ORDER BY due_at LIMIT ?",
            (stamp, stamp, limit),
        )
        return [r["id"] for r in rows]
