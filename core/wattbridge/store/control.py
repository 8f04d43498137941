"""The control database: projects and API keys (shared by both environments).

Only key *hashes* are stored. A key row records the environment it was issued
for; authentication trusts that record, never anything in the request.
"""

from __future__ import annotations

from datetime import datetime

import attrs
from sqlite_utils import Migrations

from wattbridge.clock import isoformat
from wattbridge.drivers.base import EnvironmentName
from wattbridge.store.sqlite import Database, Row

migrations = Migrations("wattbridge.control")


@migrations()
def m001_projects_and_keys(db):  # type: ignore[no-untyped-def]
    db["projects"].create({"id": str, "name": str, "live_enabled": int, "created_at": str}, pk="id")
    db["api_keys"].create(
        {
            "id": str,
            "project_id": str,
            "environment": str,
            "prefix": str,
            "key_hash": str,
            "hint": str,
            "created_at": str,
            "revoked_at": str,
        },
        pk="id",
        foreign_keys=[("project_id", "projects", "id")],
        not_null={"project_id", "environment", "prefix", "key_hash", "hint", "created_at"},
    )
    db["api_keys"].create_index(["key_hash"], unique=True)
    db["projects"].create_index(["name"], unique=True)


@migrations()
def m002_project_plans(db):  # type: ignore[no-untyped-def]
    # One row per project whose plan differs from the defaults; a project
    # without a row is on the default plan (so old projects need no backfill).
    db.execute(
        """
        CREATE TABLE project_plans (
            project_id TEXT PRIMARY KEY REFERENCES projects(id),
            credits_per_scan INTEGER NOT NULL,
            tier_limit INTEGER,
            hard_cap INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )


@migrations()
def m003_plan_device_limit(db):  # type: ignore[no-untyped-def]
    # The most connected devices a project may have in live; NULL means no limit.
    # The column default gives plans stored before it existed (and rows written by
    # an older wattbridge still running on the same data dir) the default of the
    # time, 100 (DEFAULT_DEVICE_LIMIT), never "unlimited". Written out because a
    # migration must keep meaning what it meant when it first ran.
    db.execute("ALTER TABLE project_plans ADD COLUMN device_limit INTEGER DEFAULT 100")


@attrs.frozen
class Project:
    """A tenant: everything its keys can see is scoped to it."""

    id: str
    name: str
    live_enabled: bool
    created_at: str


@attrs.frozen
class ApiKeyRecord:
    """A stored key: never the plaintext, only its hash and a hint."""

    id: str
    project_id: str
    environment: EnvironmentName
    prefix: str
    key_hash: str = attrs.field(repr=False)
    hint: str
    created_at: str
    revoked_at: str | None


def _project(row: Row) -> Project:
    return Project(row["id"], row["name"], bool(row["live_enabled"]), row["created_at"])


def _key(row: Row) -> ApiKeyRecord:
    return ApiKeyRecord(**row)


class ControlStore:
    """Repository of projects and keys."""

    def __init__(self, db: Database) -> None:
        self.db = db
        migrations.apply(db.utils())

    def create_project(
        self, project_id: str, name: str, live_enabled: bool, now: datetime
    ) -> Project:
        """Insert a project; the caller checked the name is free."""
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO projects (id, name, live_enabled, created_at) VALUES (?, ?, ?, ?)",
                (project_id, name, int(live_enabled), isoformat(now)),
            )
        return Project(project_id, name, live_enabled, isoformat(now))

    def set_live_enabled(self, project_id: str, enabled: bool) -> None:
        """Turn live access on or off."""
        with self.db.transaction():
            self.db.execute(
                "UPDATE projects SET live_enabled = ? WHERE id = ?", (int(enabled), project_id)
            )

    def get_project(self, project_id: str) -> Project | None:
        """A project by id."""
        row = self.db.query_one("SELECT * FROM projects WHERE id = ?", (project_id,))
        return None if row is None else _project(row)

    def find_project(self, id_or_name: str) -> Project | None:
        """A project by id or by name."""
        row = self.db.query_one(
            "SELECT * FROM projects WHERE id = ? OR name = ?", (id_or_name, id_or_name)
        )
        return None if row is None else _project(row)

    def list_projects(self) -> list[Project]:
        """Every project, oldest first."""
        return [
            _project(r) for r in self.db.query("SELECT * FROM projects ORDER BY created_at, id")
        ]

    def insert_key(self, record: ApiKeyRecord) -> None:
        """Store a new key record."""
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO api_keys (id, project_id, environment, prefix, key_hash, hint,"
                " created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                attrs.astuple(record),
            )

    def key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The key whose hash is ``key_hash`` (revoked or not)."""
        row = self.db.query_one("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,))
        return None if row is None else _key(row)

    def get_key(self, key_id: str) -> ApiKeyRecord | None:
        """A key record by id."""
        row = self.db.query_one("SELECT * FROM api_keys WHERE id = ?", (key_id,))
        return None if row is None else _key(row)

    def list_keys(self, project_id: str | None = None) -> list[ApiKeyRecord]:
        """Key records, oldest first, optionally for one project."""
        if project_id is None:
            rows = self.db.query("SELECT * FROM api_keys ORDER BY created_at, id")
        else:
            rows = self.db.query(
                "SELECT * FROM api_keys WHERE project_id = ? ORDER BY created_at, id",
                (project_id,),
            )
        return [_key(r) for r in rows]

    def revoke_key(self, key_id: str, now: datetime) -> bool:
        """Mark a key revoked; False when it does not exist or was already revoked."""
        with self.db.transaction():
            changed = self.db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (isoformat(now), key_id),
            )
        return changed == 1


# --- plans: a project's live scans (price, monthly limit) and live devices (limit) ------

CONTROL_DB_FILE = "control.db"
"""The control database's file name inside the data dir."""

DEFAULT_CREDITS_PER_SCAN = 1
DEFAULT_TIER_LIMIT = 100
"""Live scans a project may run per UTC calendar month unless its plan says otherwise."""
DEFAULT_HARD_CAP = True
"""By default the tier limit is a hard cap: no project runs up an overage bill unasked."""
DEFAULT_DEVICE_LIMIT = 100
"""Connected live devices a project may have unless its plan says otherwise."""


@attrs.frozen
class Plan:
    """A project's live plan: what its scans cost, how many a month it may run, and
    how many devices it may connect at once; a limit of None means unlimited.

    The sandbox ignores plans: its scans are free and its devices unlimited.
    """

    credits_per_scan: int = DEFAULT_CREDITS_PER_SCAN
    tier_limit: int | None = DEFAULT_TIER_LIMIT
    hard_cap: bool = DEFAULT_HARD_CAP
    device_limit: int | None = DEFAULT_DEVICE_LIMIT


class PlanStore:
    """Repository of project plans (in the control database, which
    :class:`ControlStore` migrates)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, project_id: str) -> Plan:
        """The project's plan; the default plan when none was set."""
        row = self.db.query_one(
            "SELECT credits_per_scan, tier_limit, hard_cap, device_limit FROM project_plans"
            " WHERE project_id = ?",
            (project_id,),
        )
        if row is None:
            return Plan()
        return Plan(
            row["credits_per_scan"], row["tier_limit"], bool(row["hard_cap"]), row["device_limit"]
        )

    def set(self, project_id: str, plan: Plan, now: datetime) -> None:
        """Store the project's plan (replacing any earlier one); the project must exist."""
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO project_plans"
                " (project_id, credits_per_scan, tier_limit, hard_cap, device_limit, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (project_id) DO UPDATE SET"
                " credits_per_scan = excluded.credits_per_scan,"
                " tier_limit = excluded.tier_limit, hard_cap = excluded.hard_cap,"
                " device_limit = excluded.device_limit, updated_at = excluded.updated_at",
                (
                    project_id,
                    plan.credits_per_scan,
                    plan.tier_limit,
                    int(plan.hard_cap),
                    plan.device_limit,
                    isoformat(now),
                ),
            )
