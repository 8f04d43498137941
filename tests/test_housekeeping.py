"""Housekeeping: idempotency keys are deleted once their 24 hours are over."""

from __future__ import annotations

from datetime import timedelta

from tests.device_support import api, clock, plat, srv  # noqa: F401  (fixtures)
from tests.support import SCAN_BODY, Api
from wattbridge.clock import FrozenClock
from wattbridge.platform import Platform
from wattbridge.services.housekeeping import IdempotencyPurger
from wattbridge.store.sqlite import Database
from wattbridge.workers import workers_for


def keys_stored(db: Database) -> int:
    """How many idempotency keys ``db`` holds."""
    return db.count("SELECT count(*) FROM idempotency_keys")


def test_expired_idempotency_keys_are_purged_and_recent_ones_kept(
    api: Api, plat: Platform, clock: FrozenClock
) -> None:
    sandbox = plat.environment("sandbox")
    purgers = [w for w in workers_for(plat) if isinstance(w, IdempotencyPurger)]
    assert {p.env.name for p in purgers} == {"sandbox", "live"}  # one per environment
    [purger] = [p for p in purgers if p.env is sandbox]
    first = api.post("/v1/scans", json=SCAN_BODY, headers={"Idempotency-Key": "old"})
    assert first.status_code == 201
    clock.advance(timedelta(hours=23))
    recent = api.post("/v1/scans", json=SCAN_BODY, headers={"Idempotency-Key": "new"})
    assert recent.status_code == 201
    assert keys_stored(sandbox.db) == 2

    clock.advance(timedelta(hours=2))  # "old" is 25 h old, "new" 2 h
    assert purger.run_once() == 0  # never "more due at once"
    assert keys_stored(sandbox.db) == 1
    replay = api.post("/v1/scans", json=SCAN_BODY, headers={"Idempotency-Key": "new"})
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["data"]["id"] == recent.json()["data"]["id"]
    reused = api.post("/v1/scans", json=SCAN_BODY, headers={"Idempotency-Key": "old"})
    assert reused.status_code == 201 and "Idempotent-Replayed" not in reused.headers
    assert reused.json()["data"]["id"] != first.json()["data"]["id"]
