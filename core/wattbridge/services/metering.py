"""The live scan meter: credits per scan, the monthly tier limit, hard caps and overage.

:class:`LiveMeter` is the :class:`~wattbridge.services.scans.ScanMeter` of a
metered environment. It runs inside the transaction that creates the scan
(``BEGIN IMMEDIATE``), so counting this month's scans and admitting one more
is a single serialised step: two concurrent requests can never both take the
last scan of a hard-capped plan.

The month is the UTC calendar month. A scan counts from the moment it is
admitted; one that ends in ``error`` stops counting (its credits and its slot
under the limit come back) and is never billed (docs/billing.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from wattbridge.clock import isoformat
from wattbridge.drivers.billing import UsageEvent
from wattbridge.errors import ScanLimitReached, ValidationFailed
from wattbridge.ids import new_id
from wattbridge.services.scans import Admission
from wattbridge.store.control import Plan
from wattbridge.store.usage import MonthUsage, UsageStore

if TYPE_CHECKING:
    from wattbridge.environments import Environment


@attrs.frozen
class Period:
    """A UTC calendar month: ``[start, end)``; ``end`` is when the meter resets."""

    start: datetime
    end: datetime


def month_of(at: datetime) -> Period:
    """The UTC calendar month that contains ``at``."""
    moment = at.astimezone(UTC)
    start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return Period(start, end)


def limit_reached(project_id: str, plan: Plan, used: int, period: Period) -> ScanLimitReached:
    """The 429 for a hard-capped project: the limit, when it resets, how to raise it."""
    assert plan.tier_limit is not None
    error = ScanLimitReached(
        f"This project has used its {plan.tier_limit} live scans for "
        f"{period.start:%B %Y} and its plan has a hard cap. The limit resets on "
        f"{period.end:%Y-%m-%d} (00:00 UTC). To run more scans now, ask an operator to "
        f"raise the limit (wattbridge projects set-plan {project_id} --tier-limit N) or to "
        "allow overage (--overage).",
        {
            "tierLimit": plan.tier_limit,
            "scansThisMonth": used,
            "resetsAt": isoformat(period.end),
        },
    )
    return error


class LiveMeter:
    """Prices each scan by its project's plan and enforces the plan's tier limit."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.usage = UsageStore(env.db)

    def admit(self, project_id: str, scan_id: str, at: datetime) -> Admission:
        """Admit one scan, or refuse it with :class:`ScanLimitReached` (hard cap).

        Call inside the creating transaction: the count, the decision and the
        usage event (held until the scan finishes) commit with the scan.
        """
        plan = self.env.plans.get(project_id)
        period = month_of(at)
        used = self.usage.month_usage(project_id, period.start, period.end).scans
        over = plan.tier_limit is not None and used >= plan.tier_limit
        if over and plan.hard_cap:
            raise limit_reached(project_id, plan, used, period)
        self.usage.hold(
            UsageEvent(
                id=new_id("use"),
                project_id=project_id,
                scan_id=scan_id,
                credits=plan.credits_per_scan,
                overage=over,
                occurred_at=at,
            )
        )
        return Admission(metered=True, cost=float(plan.credits_per_scan), overage=over)


def usage_report(env: Environment, project_id: str) -> dict[str, Any]:
    """``GET /v1/usage``: this UTC month's charged scans and credits, the plan, and
    the project's connected devices with its device limit.

    An unmetered environment (the sandbox) counts nothing and has no limit; an
    environment without device limits (the sandbox) shows ``deviceLimit`` null.
    """
    period = month_of(env.clock.now())
    metered = env.config.metered
    plan = env.plans.get(project_id) if metered else None
    month = (
        UsageStore(env.db).month_usage(project_id, period.start, period.end)
        if metered
        else MonthUsage(0, 0, 0)
    )
    return {
        "period": {"start": isoformat(period.start), "end": isoformat(period.end)},
        "metered": metered,
        "creditsUsed": month.credits,
        "scansThisMonth": month.scans,
        "tierLimit": plan.tier_limit if plan else None,
        "overage": month.overage_scans > 0,
        "overageScans": month.overage_scans,
        "hardCap": plan.hard_cap if plan else False,
        "creditsPerScan": plan.credits_per_scan if plan else None,
        "devicesConnected": env.devices.connected_count(project_id),
        "deviceLimit": env.devices.device_limit(project_id),
    }


MAX_CREDITS_PER_SCAN = 1_000_000


def revise_plan(
    current: Plan,
    *,
    credits_per_scan: int | None = None,
    tier_limit: int | None = None,
    unlimited: bool = False,
    hard_cap: bool | None = None,
    device_limit: int | None = None,
    unlimited_devices: bool = False,
) -> Plan:
    """``current`` with the given settings changed (None: unchanged).

    :param unlimited: remove the tier limit (exclusive with ``tier_limit``).
    :param unlimited_devices: remove the device limit (exclusive with ``device_limit``).
    :raises ValidationFailed: a negative or contradictory value, naming the setting.
    """
    if unlimited and tier_limit is not None:
        raise ValidationFailed.single(
            "$.tierLimit", "give a tier limit or remove it (no tier limit), not both"
        )
    if unlimited_devices and device_limit is not None:
        raise ValidationFailed.single(
            "$.deviceLimit", "give a device limit or remove it (no device limit), not both"
        )
    if credits_per_scan is not None and not 0 <= credits_per_scan <= MAX_CREDITS_PER_SCAN:
        raise ValidationFailed.single(
            "$.creditsPerScan", f"must be a whole number from 0 to {MAX_CREDITS_PER_SCAN}"
        )
    if tier_limit is not None and tier_limit < 0:
        raise ValidationFailed.single("$.tierLimit", "must be 0 or more scans per month")
    if device_limit is not None and device_limit < 0:
        raise ValidationFailed.single("$.deviceLimit", "must be 0 or more connected devices")
    limit = current.tier_limit if tier_limit is None else tier_limit
    devices = current.device_limit if device_limit is None else device_limit
    return Plan(
        credits_per_scan=current.credits_per_scan if credits_per_scan is None else credits_per_scan,
        tier_limit=None if unlimited else limit,
        hard_cap=current.hard_cap if hard_cap is None else hard_cap,
        device_limit=None if unlimited_devices else devices,
    )


def describe_plan(plan: Plan) -> dict[str, Any]:
    """A plan in the API's spelling (``wattbridge projects set-plan --json``)."""
    return {
        "creditsPerScan": plan.credits_per_scan,
        "tierLimit": plan.tier_limit,
        "hardCap": plan.hard_cap,
        "deviceLimit": plan.device_limit,
    }
