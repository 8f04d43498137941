"""Action state changes and their ``action.*`` events commit together or not at all.

A SQLite trigger makes the outbox refuse action events, as a crash or a full disk
would at the worst moment. Every transition that would have written an event must
then leave the action exactly as it was; once the outbox works again, the same
transition goes through with its event.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from tests.device_support import (  # noqa: F401  (fixtures)
    api,
    at,
    clock,
    create,
    plat,
    srv,
)
from tests.support import Api, data, error
from wattbridge.clock import FrozenClock
from wattbridge.platform import Platform
from wattbridge.services.action_lifecycle import LEASE, ActionWorker


@contextmanager
def outbox_refusing_action_events(plat: Platform) -> Iterator[None]:
    """While open, inserting an ``action.*`` event aborts the transaction."""
    db = plat.environment("sandbox").db
    db.execute(
        "CREATE TRIGGER refuse_action_events BEFORE INSERT ON events"
        " WHEN NEW.type LIKE 'action.%' BEGIN SELECT RAISE(ABORT, 'outbox unavailable'); END"
    )
    try:
        yield
    finally:
        db.execute("DROP TRIGGER refuse_action_events")


def action_events(api: Api) -> list[tuple[str, str]]:
    items = data(api.get("/v1/events", params={"limit": 100}), 200)["items"]
    return sorted((e["type"], e["data"]["id"]) for e in items if e["type"].startswith("action."))


def state_of(api: Api, action: dict[str, Any]) -> str:
    return str(data(api.get(f"/v1/actions/{action['id']}"), 200)["state"])


def test_cancel_rolls_back_without_its_event(plat: Platform, api: Api) -> None:
    battery = create(api, type="battery", vendor="helion")
    action = data(api.post(f"/v1/devices/{battery['id']}/actions",
                           json={"command": "idle", "start": at(1)}), 202)
    with outbox_refusing_action_events(plat):
        failed = error(api.post(f"/v1/actions/{action['id']}/cancel"), 500, "INTERNAL_ERROR")
        assert "outbox" not in failed["message"]  # no SQL details leak
    assert state_of(api, action) == "scheduled" and action_events(api) == []
    assert data(api.post(f"/v1/actions/{action['id']}/cancel"), 200)["state"] == "cancelled"
    assert action_events(api) == [("action.cancelled", action["id"])]


def test_cancel_and_replace_is_all_or_nothing(plat: Platform, api: Api) -> None:
    battery = create(api, type="battery", vendor="helion")
    path = f"/v1/devices/{battery['id']}/actions"
    first = data(api.post(path, json={"command": "idle", "start": at(1), "end": at(2)}), 202)
    replacing = {"command": "charge", "start": at(1), "end": at(3),
                 "onConflict": "cancel_and_replace"}
    with outbox_refusing_action_events(plat):
        error(api.post(path, json=replacing), 500, "INTERNAL_ERROR")
    # Neither the cancellation nor the new action happened.
    assert state_of(api, first) == "scheduled"
    assert [a["id"] for a in data(api.get(path), 200)["items"]] == [first["id"]]
    second = data(api.post(path, json=replacing), 202)
    assert state_of(api, first) == "cancelled" and second["state"] == "scheduled"
    assert action_events(api) == [("action.cancelled", first["id"])]


def test_worker_completion_waits_for_the_outbox(
    plat: Platform, api: Api, clock: FrozenClock
) -> None:
    car = create(api, type="vehicle")
    action = data(api.post(f"/v1/devices/{car['id']}/actions", json={"command": "charge"}), 202)
    assert action["state"] == "acknowledged"
    worker = ActionWorker(plat.environment("sandbox"))
    clock.advance(5)
    with outbox_refusing_action_events(plat):
        assert worker.run_once() == 1  # claimed, but the transition rolled back
    assert state_of(api, action) == "acknowledged" and action_events(api) == []
    assert worker.run_once() == 0  # still leased by the failed pass
    clock.advance(LEASE)
    assert worker.run_once() == 1  # the lease ran out: claimed again, and it completes
    assert state_of(api, action) == "completed"
    assert action_events(api) == [("action.completed", action["id"])]


def test_one_failing_action_does_not_hold_up_the_batch(
    plat: Platform, api: Api, clock: FrozenClock
) -> None:
    env = plat.environment("sandbox")
    battery = create(api, type="battery", vendor="helion")
    car = create(api, type="vehicle")
    doomed = data(api.post(f"/v1/devices/{battery['id']}/actions",
                           json={"command": "idle", "start": at(1)}), 202)
    fine = data(api.post(f"/v1/devices/{car['id']}/actions",
                         json={"command": "idle", "start": at(1)}), 202)
    # The doomed action's row is corrupted so that reading it fails.
    env.db.execute("UPDATE actions SET parameters = 'not json' WHERE id = ?", (doomed["id"],))
    clock.advance(timedelta(hours=1))
    assert ActionWorker(env).run_once() == 2
    assert state_of(api, fine) == "acknowledged"
