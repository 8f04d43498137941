"""The ``stripe`` billing sink against a Stripe stand-in on loopback (never Stripe itself)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.stripe_standin import API_KEY, StripeStandIn, stripe_standin
from tests.support import free_port
from wattbridge.clock import FrozenClock
from wattbridge.drivers.billing import SinkContext, UsageEvent
from wattbridge.errors import ConfigurationError
from wattbridge.store.sqlite import Database
from wattbridge_stripe import StripeError, StripeSettings, StripeSink

AT = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)
EVENT = UsageEvent("use_abc", "proj_acme", "scan_1", 3, False, AT)
GOOD: dict[str, Any] = {
    "api_key": API_KEY,
    "api_base": "https://api.stripe.com",
    "event_name": "wattbridge_scan_credits",
    "customers": {"proj_acme": "cus_acme"},
}


@pytest.fixture
def standin() -> Iterator[StripeStandIn]:
    with stripe_standin() as server:
        yield server


def bound(tmp_path: Path, **settings: Any) -> Any:
    context = SinkContext(
        environment="live",
        data_dir=tmp_path,
        db=Database(tmp_path / "live.db"),
        clock=FrozenClock(AT),
        settings={**GOOD, **settings},
    )
    return StripeSink().bind(context)


def test_a_usage_event_becomes_one_meter_event(tmp_path: Path, standin: StripeStandIn) -> None:
    sink = bound(tmp_path, api_base=standin.url + "/")
    sink.record(EVENT)
    sink.record(EVENT)  # a repeat: same identifier and Idempotency-Key
    assert standin.events == {
        "use_abc": {
            "event_name": "wattbridge_scan_credits",
            "payload[stripe_customer_id]": "cus_acme",
            "payload[value]": "3",
            "identifier": "use_abc",
            "timestamp": str(int(AT.timestamp())),
        }
    }
    assert [r["headers"]["idempotency-key"] for r in standin.requests] == ["use_abc"] * 2
    assert all(r["headers"]["authorization"] == f"Bearer {API_KEY}" for r in standin.requests)


def test_stripe_errors_are_raised_with_stripes_message(
    tmp_path: Path, standin: StripeStandIn
) -> None:
    standin.fail_next = 1
    sink = bound(tmp_path, api_base=standin.url)
    with pytest.raises(StripeError, match="Stripe answered 500: An unknown error occurred") as e:
        sink.record(EVENT)
    assert e.value.status == 500 and standin.events == {}
    wrong_key = bound(tmp_path, api_base=standin.url, api_key="sk_test_wrong")
    with pytest.raises(StripeError, match="401: Invalid API Key provided") as refused:
        wrong_key.record(EVENT)
    assert "sk_test_wrong" not in str(refused.value)


def test_no_answer_and_unknown_customers_are_failures_to_retry(tmp_path: Path) -> None:
    sink = bound(tmp_path, api_base=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StripeError, match="no answer from Stripe: ConnectError"):
        sink.record(EVENT)
    stranger = UsageEvent("use_x", "proj_other", "scan_2", 1, False, AT)
    with pytest.raises(StripeError, match="no Stripe customer is configured for project"):
        sink.record(stranger)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"api_key": ""}, r"stripe\.api_key: set the Stripe secret"),
        ({"api_key": "pk_live_publishable"}, r"stripe\.api_key"),
        ({"api_base": "ftp://stripe.example"}, r"stripe\.api_base: 'ftp://stripe\.example'"),
        ({"event_name": " "}, r"stripe\.event_name"),
        ({"customers": {"proj_acme": "acct_1"}}, r"proj_acme = 'acct_1' is not a Stripe"),
        ({"customers": {"proj_acme": 12}}, r"proj_acme = 12 is not a Stripe"),
        ({"customers": "proj_acme=cus_1"}, r"stripe\.customers: give a table"),
    ],
)
def test_bad_settings_are_refused_saying_what_to_set(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        StripeSettings.parse({**GOOD, **settings})


def test_diagnostics_and_repr_never_show_the_key(tmp_path: Path) -> None:
    sink = bound(tmp_path)
    shown = sink.diagnostics()
    assert API_KEY not in repr(shown) and API_KEY not in repr(sink.settings)
    assert shown["customers"] == {"proj_acme": "cus_acme"}
    with pytest.raises(ConfigurationError, match="bind it first"):
        StripeSink().record(EVENT)
