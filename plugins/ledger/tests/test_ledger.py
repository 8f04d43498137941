"""The ``ledger`` sink: its table comes from ``prepare_storage`` alone, at environment start."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from wattbridge.clock import FrozenClock
from wattbridge.config import Config
from wattbridge.drivers.billing import SinkContext, UsageEvent
from wattbridge.errors import ConfigurationError
from wattbridge.platform import Platform
from wattbridge.services.billing import bind_sinks
from wattbridge.store.sqlite import Database
from wattbridge_ledger import LedgerSink, ledger_entries, prepare_storage

AT = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)
EVENT = UsageEvent("use_abc", "proj_acme", "scan_1", 3, False, AT)


def has_ledger_table(db: Database) -> bool:
    return "billing_ledger" in db.utils().table_names()


def open_platform(data_dir: Path, *, create: bool = True) -> Platform:
    # Only this plugin: the environments start without the others' drivers.
    overrides = {"data_dir": str(data_dir), "load_plugins": "ledger"}
    config = Config.load(environ={}, overrides=overrides)
    return Platform(config=config, clock=FrozenClock(AT), create=create)


def context(db: Database) -> SinkContext:
    return SinkContext(environment="live", data_dir=db.path.parent, db=db, clock=FrozenClock(AT))


def test_opening_the_platform_creates_the_table_in_live_only(tmp_path: Path) -> None:
    plat = open_platform(tmp_path / "data")
    try:
        assert has_ledger_table(plat.environment("live").db)
        assert not has_ledger_table(plat.environment("sandbox").db)
    finally:
        plat.close()


def test_a_worker_only_process_binds_and_records(tmp_path: Path) -> None:
    # ``wattbridge worker`` opens an existing data dir without creating it, and
    # binds the sinks itself; its live database may not exist yet.
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    plat = open_platform(data_dir, create=False)
    try:
        env = plat.environment("live")
        sink = bind_sinks(env)["ledger"]
        sink.record(EVENT)
        sink.record(EVENT)  # the same event again changes nothing
        [row] = ledger_entries(env.db)
        assert (row["event_id"], row["project_id"], row["credits"]) == ("use_abc", "proj_acme", 3)
    finally:
        plat.close()


def test_bind_refuses_a_database_that_skipped_prepare_storage(tmp_path: Path) -> None:
    db = Database(tmp_path / "live.db")
    try:
        with pytest.raises(ConfigurationError, match=r"no billing_ledger table.*prepare_storage"):
            LedgerSink().bind(context(db))
        # bind checks, it does not migrate: the schema has one source.
        assert not has_ledger_table(db)
        prepare_storage(db.utils(), "live")
        LedgerSink().bind(context(db)).record(EVENT)
        assert [r["event_id"] for r in ledger_entries(db)] == ["use_abc"]
    finally:
        db.close()
