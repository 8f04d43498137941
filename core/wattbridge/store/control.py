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
