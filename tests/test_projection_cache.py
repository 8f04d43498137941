"""A current read projects a device at the start of its second; a projection is
reused within that second, and the device's row and actions in later seconds,
only while the environment's database is unchanged (and, for the actions, until
the next one starts).

Through a real server on a frozen clock, so that "the same second" is exact; the
writes that must count come through the API, through another connection of
this process and through another process.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from tests.device_support import api, at, clock, create, plat, read, srv  # noqa: F401  (fixtures)
from tests.support import SCAN_BODY, Api, data, error
from wattbridge.clock import FrozenClock
from wattbridge.platform import Platform
from wattbridge.serialization import Encoded
from wattbridge.services.actions import MAX_PROJECTED_ACTIONS, PROJECTED_STATES
from wattbridge.services.devices import CachedRead
from wattbridge.store.revision_cache import RevisionCache
from wattbridge.store.sqlite import Database


def test_reads_within_a_second_agree_and_show_its_start(api: Api, clock: FrozenClock) -> None:
    battery = create(api, type="battery", vendor="helion")
    clock.advance(timedelta(minutes=30, milliseconds=250))
    first = read(api, battery["id"])
    clock.advance(timedelta(milliseconds=600))
    assert read(api, battery["id"]) == first
    assert first["sync"]["lastPulledAt"] == at(0.5)  # 12:30:00.000, not 12:30:00.250
    assert first["metadata"] == {"source": "projection"}
    clock.advance(timedelta(milliseconds=150))  # 12:30:01.000: the next second
    later = read(api, battery["id"])
    assert later["sync"]["lastPulledAt"] == "2026-06-01T12:30:01.000Z"


def test_a_read_agrees_with_time_travel_to_the_start_of_its_second(
    api: Api, clock: FrozenClock
) -> None:
    solar = create(api, type="solar_inverter")
    clock.advance(timedelta(hours=1, milliseconds=900))
    now = read(api, solar["id"])
    assert now["sync"]["lastPulledAt"] == at(1)  # 13:00:00.000, not 13:00:00.900
    assert now["state"] == read(api, solar["id"], at=at(1))["state"]


def test_an_action_in_the_same_second_shows_in_the_next_read(api: Api) -> None:
    battery = create(api, type="battery", vendor="helion")
    assert read(api, battery["id"])["lastAction"] is None  # remembered for this second
    pushed = api.post(f"/v1/devices/{battery['id']}/actions", json={"command": "idle"})
    action = data(pushed, 202)
    after = read(api, battery["id"])  # same frozen instant
    assert after["lastAction"]["id"] == action["id"]
    assert after["state"]["currentMode"] == "idle"


def test_a_device_read_again_in_a_later_second_is_projected_anew(
    api: Api, clock: FrozenClock
) -> None:
    # The second read reuses the first one's row and actions (nothing was
    # written), but projects them at its own second.
    vehicle = create(api, type="vehicle")
    first = read(api, vehicle["id"])
    clock.advance(timedelta(hours=2))
    later = read(api, vehicle["id"])
    assert later["sync"]["lastPulledAt"] == at(2)
    assert later["state"] == read(api, vehicle["id"], at=at(2))["state"]
    assert later["state"] != first["state"]


def test_a_scheduled_action_bounds_how_long_a_read_is_reused(
    api: Api, plat: Platform, clock: FrozenClock
) -> None:
    # Once it starts, a scheduled action joins the actions a read hands to the
    # provider, without any write: a remembered read serves only until then.
    battery = create(api, type="battery", vendor="helion")
    data(api.post(f"/v1/devices/{battery['id']}/actions",
                  json={"command": "idle", "start": at(10 / 3600)}), 202)
    project_id = data(api.get("/v1/me"), 200)["project"]["id"]
    found = plat.environment("sandbox").devices.store.get_for_read(
        project_id, battery["id"], clock.now(), PROJECTED_STATES, MAX_PROJECTED_ACTIONS
    )
    assert found is not None
    row, actions = found
    assert actions.projected == [] and actions.next_start == clock.now() + timedelta(seconds=10)
    remembered = CachedRead(row, actions, clock.now(), ({}, {}), clock.now(), Encoded(b"{}"))
    assert remembered.serves(clock.now() + timedelta(seconds=9))
    assert not remembered.serves(clock.now() + timedelta(seconds=10))
    assert not remembered.serves(clock.now() - timedelta(seconds=1))  # read for a later second


def test_a_clock_set_back_does_not_reuse_a_later_read(api: Api, clock: FrozenClock) -> None:
    battery = create(api, type="battery", vendor="helion")
    start = clock.now()
    clock.advance(timedelta(seconds=5))
    data(api.post(f"/v1/devices/{battery['id']}/actions", json={"command": "idle"}), 202)
    clock.advance(timedelta(seconds=15))
    assert read(api, battery["id"])["state"]["currentMode"] == "idle"
    clock.set(start)  # before the action: it must not be in the projection
    assert read(api, battery["id"])["state"]["currentMode"] != "idle"


def test_a_disconnected_device_is_gone_in_the_same_second(api: Api) -> None:
    battery = create(api, type="battery")
    read(api, battery["id"])
    data(api.request("DELETE", f"/v1/devices/{battery['id']}"), 200)
    error(api.get(f"/v1/devices/{battery['id']}"), 404, "NOT_FOUND")


def test_a_write_by_another_connection_counts_on_the_next_read(api: Api, plat: Platform) -> None:
    battery = create(api, type="battery")
    read(api, battery["id"])
    with sqlite3.connect(plat.environment("sandbox").db.path) as other:
        other.execute("UPDATE devices SET model = 'Renamed' WHERE id = ?", (battery["id"],))
    assert read(api, battery["id"])["model"] == "Renamed"


def test_a_write_by_another_process_counts_on_the_next_read(api: Api, plat: Platform) -> None:
    battery = create(api, type="battery")
    read(api, battery["id"])
    script = (
        "import sqlite3, sys\n"
        "with sqlite3.connect(sys.argv[1]) as c:\n"
        "    c.execute(\"UPDATE devices SET disconnected_at = '2026-06-01T12:00:00.000Z'"
        " WHERE id = ?\", (sys.argv[2],))\n"
    )
    subprocess.run([sys.executable, "-c", script, str(plat.environment("sandbox").db.path),
                    battery["id"]], check=True, timeout=60)
    error(api.get(f"/v1/devices/{battery['id']}"), 404, "NOT_FOUND")


def test_nothing_is_remembered_inside_a_transaction(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.db")
    db.execute("CREATE TABLE t (v INTEGER)")
    cache: RevisionCache[str, int] = RevisionCache(db.revision, size=4)
    with db.transaction():
        db.execute("INSERT INTO t VALUES (1)")
        assert cache.get("k") is None
        cache.put("k", 1)  # could still be rolled back: not kept
        assert cache.get("k") is None
    assert cache.get("k") is None
    cache.put("k", 2)
    assert cache.get("k") == 2
    db.close()


def test_a_full_cache_forgets_the_value_stored_first(tmp_path: Path) -> None:
    db = Database(tmp_path / "x.db")
    cache: RevisionCache[int, int] = RevisionCache(db.revision, size=3)
    for n in range(3):
        assert cache.get(n) is None
        cache.put(n, n)
    assert [cache.get(n) for n in range(3)] == [0, 1, 2]
    cache.get(3)
    cache.put(3, 3)  # a fourth: the first goes
    assert [cache.get(n) for n in range(4)] == [None, 1, 2, 3]
    cache.put(2, 20)  # a new value for a key it holds: nothing goes
    assert [cache.get(n) for n in range(4)] == [None, 1, 20, 3]
    db.close()


def test_only_device_and_action_changes_advance_the_devices_generation(
    api: Api, plat: Platform
) -> None:
    generation = plat.environment("sandbox").devices.store.revision
    battery = create(api, type="battery")
    start = generation()
    whole = plat.environment("sandbox").db.revision()
    data(api.post("/v1/scans", json=SCAN_BODY), 201)  # a scan, its result, an event
    assert plat.environment("sandbox").db.revision() != whole  # the database did change
    assert generation() == start
    data(api.post(f"/v1/devices/{battery['id']}/actions", json={"command": "idle"}), 202)
    after_action = generation()
    assert after_action is not None and start is not None and after_action > start
    with sqlite3.connect(plat.environment("sandbox").db.path) as other:  # any connection
        other.execute("UPDATE devices SET model = 'Renamed' WHERE id = ?", (battery["id"],))
    assert generation() == after_action + 1
    data(api.request("DELETE", f"/v1/devices/{battery['id']}"), 200)
    assert generation() > after_action + 1
