"""Billing through a real server with live and sandbox keys, the real solver and real sinks.

The plan is changed with the ``wattbridge projects set-plan`` command (run in
this process on the same data dir, while the server runs); usage events are
delivered by the billing worker to the built-in ledger and to the ``stripe``
sink, which talks HTTP to a Stripe stand-in on loopback (never to Stripe).
The clock is frozen so that retries are driven by moving it; one live scan is
solved by the real HiGHS solver (about 1.5 s).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result

from tests.openapi_check import validate
from tests.stripe_standin import API_KEY, StripeStandIn, stripe_standin
from tests.support import (
    BUILTIN_PLUGINS,
    Api,
    data,
    invoke_cli,
    key_of,
    make_config,
    run_cli,
    running,
    scans_and_events,
)
from tests.support import SCAN_BODY as BODY
from wattbridge.clock import FrozenClock, parse_instant
from wattbridge.drivers.base import EnvironmentName
from wattbridge.drivers.billing import UsageEvent
from wattbridge.platform import Platform
from wattbridge.services.billing import RETRY_DELAYS, BillingWorker
from wattbridge.services.solver_queue import SolverQueue
from wattbridge.store.usage import UsageStore
from wattbridge_ledger import ledger_entries

START = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
CUSTOMER = "cus_standin42"
TEST_PLUGINS = (*BUILTIN_PLUGINS, "ledger", "stripe")
PLUGINS = ",".join(TEST_PLUGINS)


def wattbridge(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the command-line tool as a real process, on the test's plugins."""
    return run_cli(*args, plugins=TEST_PLUGINS)


def command(*args: str) -> Result:
    """Run the command-line tool in this process, on the test's plugins."""
    return invoke_cli(*args, plugins=TEST_PLUGINS)


@pytest.fixture
def standin() -> Iterator[StripeStandIn]:
    with stripe_standin() as server:
        yield server


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir with a live-enabled project 'acme', made with the command-line tool."""
    data = tmp_path / "data"
    created = command("projects", "create", "acme", "--live", "--data-dir", str(data))
    assert created.exit_code == 0, created.output
    return data


@pytest.fixture
def plat(data_dir: Path, standin: StripeStandIn) -> Iterator[Platform]:
    """The platform, with ledger and stripe sinks for live; acme is billed to CUSTOMER."""
    probe = Platform(config=make_config(data_dir))
    project = probe.access.project("acme").id
    probe.close()
    config = make_config(
        data_dir,
        load_plugins=PLUGINS,
        **{
            "live.billing_sinks": "ledger,stripe",
            "stripe.api_key": API_KEY,
            "stripe.api_base": standin.url,
            "stripe.customers": f"{project}={CUSTOMER}",
        },
    )
    platform = Platform(config=config, clock=FrozenClock(START))
    yield platform
    platform.close()


def client(plat: Platform, url: str, environment: EnvironmentName) -> Api:
    return Api(url, key_of(plat, "acme", environment))


def set_plan(data_dir: Path, *options: str) -> dict[str, Any]:
    changed = command("projects", "set-plan", "acme", *options, "--json",
                      "--data-dir", str(data_dir))
    assert changed.exit_code == 0, changed.output
    return dict(json.loads(changed.stdout))


def test_credits_limits_overage_and_usage_events_end_to_end(
    plat: Platform, data_dir: Path, standin: StripeStandIn
) -> None:
    plan = set_plan(data_dir, "--tier-limit", "2", "--hard-cap", "--credits-per-scan", "2")
    assert plan["tierLimit"] == 2 and plan["hardCap"] is True and plan["creditsPerScan"] == 2
    with running(plat) as server:
        document = httpx.get(f"{server.url}/openapi.json").json()
        live = client(plat, server.url, "live")
        sandbox = client(plat, server.url, "sandbox")

        # Two scans within the limit cost the plan's credits.
        created = live.post("/v1/scans", json=BODY)
        validate(document, "POST", "/v1/scans", 201, created.json())
        first = data(created, 201)
        assert (first["cost"], first["overage"]) == (2, False)
        data(live.post("/v1/scans", json=BODY), 201)

        # The third hits the hard cap: 429, and nothing is stored.
        before = scans_and_events(live)
        refused = live.post("/v1/scans", json=BODY)
        assert refused.status_code == 429, refused.text
        body = refused.json()
        assert body["statusCode"] == 429 and body["error"]["code"] == "SCAN_LIMIT_REACHED"
        assert "2 live scans for June 2026" in body["message"]
        assert "resets on 2026-07-01" in body["message"] and "--tier-limit" in body["message"]
        assert body["meta"]["environment"] == "live"
        assert scans_and_events(live) == before
        # A 429 is not kept for its Idempotency-Key: the same key works once allowed.
        keyed = {"Idempotency-Key": "refused-then-retried"}
        assert live.post("/v1/scans", json=BODY, headers=keyed).status_code == 429

        # Without the hard cap it runs, flagged as overage.
        set_plan(data_dir, "--overage")
        beyond = data(live.post("/v1/scans", json=BODY, headers=keyed), 201)
        assert beyond["overage"] is True
        response = live.get("/v1/usage")
        validate(document, "GET", "/v1/usage", 200, response.json())
        usage = data(response, 200)
        assert (usage["scansThisMonth"], usage["creditsUsed"], usage["tierLimit"]) == (3, 6, 2)
        assert (usage["overage"], usage["overageScans"], usage["hardCap"]) == (True, 1, False)

        # The sandbox counts nothing and is never limited, whatever the plan says.
        set_plan(data_dir, "--tier-limit", "0", "--hard-cap")
        for _ in range(2):
            scan = data(sandbox.post("/v1/scans", json=BODY), 201)
            assert scan["cost"] is None and scan["overage"] is False
        sandbox_usage = data(sandbox.get("/v1/usage"), 200)
        assert (sandbox_usage["scansThisMonth"], sandbox_usage["creditsUsed"]) == (0, 0)
        assert sandbox_usage["tierLimit"] is None and sandbox_usage["overage"] is False
        live.close()
        sandbox.close()

    # The first live scan is solved by the real solver, then billed.
    env = plat.environment("live")
    assert SolverQueue(env).run_once() == 1
    clock = plat.clock
    assert isinstance(clock, FrozenClock)
    standin.fail_next = 1
    billing = BillingWorker(env)
    assert billing.run_once() == 3  # settled; ledger delivered, stripe answered 500
    [entry] = ledger_entries(env.db)
    assert (entry["scan_id"], entry["credits"]) == (first["id"], 2)
    assert standin.events == {} and len(standin.requests) == 1
    clock.advance(RETRY_DELAYS[0] * 1.2)
    assert billing.run_once() == 1
    assert billing.run_once() == 0

    [(identifier, form)] = standin.events.items()
    assert identifier == entry["event_id"]
    assert form == {
        "event_name": "wattbridge_scan_credits",
        "payload[stripe_customer_id]": CUSTOMER,
        "payload[value]": "2",
        "identifier": identifier,
        "timestamp": str(int(START.timestamp())),
    }
    keys = {r["headers"]["idempotency-key"] for r in standin.requests}
    assert keys == {identifier} and len(standin.requests) == 2

    # A repeat (say, a worker died after Stripe answered) is counted once.
    row = env.db.query_one("SELECT * FROM usage_events WHERE scan_id = ?", (first["id"],))
    assert row is not None
    again = UsageEvent(row["id"], row["project_id"], row["scan_id"], row["credits"],
                       bool(row["overage"]), parse_instant(row["occurred_at"]))
    billing.sinks["stripe"].record(again)
    billing.sinks["ledger"].record(again)
    assert len(standin.events) == 1 and len(ledger_entries(env.db)) == 1
    held = [d.state for d in UsageStore(env.db).deliveries(beyond["id"])]
    assert held == ["held"]  # not solved yet: not billed yet


def test_set_plan_refuses_bad_values_and_unknown_projects(data_dir: Path) -> None:
    negative = command("projects", "set-plan", "acme", "--credits-per-scan", "-1",
                       "--data-dir", str(data_dir))
    assert negative.exit_code == 2
    assert "Invalid value for '--credits-per-scan'" in negative.stderr
    both = command("projects", "set-plan", "acme", "--tier-limit", "5", "--no-tier-limit",
                   "--data-dir", str(data_dir))
    assert both.exit_code == 2 and "not both" in both.stderr
    unknown = command("projects", "set-plan", "nobody", "--data-dir", str(data_dir))
    assert unknown.exit_code == 1 and "no project 'nobody'" in unknown.stderr
    shown = wattbridge("projects", "set-plan", "acme", "--no-tier-limit", "--overage",
                       "--no-device-limit", "--data-dir", str(data_dir))
    assert shown.returncode == 0, shown.stderr
    assert "tier limit        none" in shown.stdout
    assert "over the limit    run, flagged as overage" in shown.stdout
    assert "device limit      none" in shown.stdout
