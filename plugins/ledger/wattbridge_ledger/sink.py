"""The ledger sink and its table (created only by the ``prepare_storage`` hook)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlite_utils import Migrations

from wattbridge.clock import Clock, isoformat
from wattbridge.drivers.base import EnvironmentName
from wattbridge.drivers.billing import BillingSink, SinkContext, UsageEvent
from wattbridge.errors import ConfigurationError

if TYPE_CHECKING:
    # Only the type of SinkContext.db, as the billing contract names it.
    from wattbridge.store.sqlite import Database

migrations = Migrations("wattbridge_ledger")


@migrations()
def m001_billing_ledger(db):  # type: ignore[no-untyped-def]
    db.execute(
        """
        CREATE TABLE billing_ledger (
            event_id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL,
            scan_id TEXT NOT NULL,
            credits INTEGER NOT NULL,
            overage INTEGER NOT NULL,
            occurred_at TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX billing_ledger_project ON billing_ledger (project_id, occurred_at)")


class LedgerSink:
    """The registered driver; :meth:`bind` gives the sink of one environment."""

    name = "ledger"
    environments: frozenset[EnvironmentName] = frozenset({"live"})

    def bind(self, context: SinkContext) -> BillingSink:
        """A ledger writing to ``context.db``.

        The table comes from the plugin's ``prepare_storage`` hook alone, which the
        core runs for every environment before any sink can be bound; ``bind`` only
        checks that it ran, so a database that skipped it fails here, at startup,
        rather than on every delivery.

        :raises ConfigurationError: ``context.db`` has no ledger table.
        """
        found = context.db.query_one(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'billing_ledger'"
        )
        if found is None:
            raise ConfigurationError(
                f"the {context.environment} database has no billing_ledger table; open the "
                "environment through wattbridge (its startup runs every plugin's "
                "prepare_storage) or call wattbridge_ledger.prepare_storage(db.utils(), "
                f"{context.environment!r}) before binding the ledger"
            )
        return BoundLedger(context.db, context.clock)

    def record(self, event: UsageEvent) -> None:
        """Unbound, the ledger has nowhere to write."""
        raise ConfigurationError(
            "the ledger sink records into an environment's database; bind it first"
        )


class BoundLedger:
    """The ledger of one environment."""

    name = "ledger"
    environments: frozenset[EnvironmentName] = frozenset({"live"})

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def record(self, event: UsageEvent) -> None:
        """Append the event once; a repeat of the same event id is ignored."""
        # One statement: atomic on its own, no transaction needed around it.
        self.db.execute(
            "INSERT INTO billing_ledger (event_id, project_id, scan_id, credits, overage,"
            " occurred_at, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (event_id) DO NOTHING",
            (
                event.id,
                event.project_id,
                event.scan_id,
                event.credits,
                int(event.overage),
                isoformat(event.occurred_at),
                isoformat(self.clock.now()),
            ),
        )


def ledger_entries(db: Database, project_id: str | None = None) -> list[dict[str, Any]]:
    """The ledger's rows, oldest first, optionally of one project."""
    if project_id is None:
        return db.query("SELECT * FROM billing_ledger ORDER BY occurred_at, event_id")
    return db.query(
        "SELECT * FROM billing_ledger WHERE project_id = ? ORDER BY occurred_at, event_id",
        (project_id,),
    )
