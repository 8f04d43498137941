"""Report operations: render a completed scan's report, make and honour report links."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

import attrs

from wattbridge.errors import InternalError, LiveAccessDisabled, Unauthorized, ValidationFailed
from wattbridge.models.scans import Goal, ScanResult
from wattbridge.reports.html import ReportView, render_report
from wattbridge.reports.links import INVALID_LINK, PURPOSE, ReportGrant, ReportLinks
from wattbridge.serialization import json_name, structure
from wattbridge.services.access import AccessService, Principal
from wattbridge.services.scans import ScanService

if TYPE_CHECKING:
    from wattbridge.environments import Environment
    from wattbridge.platform import Platform

log = logging.getLogger("wattbridge.reports")

REPORT_PATH = "/v1/scans/{id}/report"

_RESULT_KEYS = frozenset(json_name(field) for field in attrs.fields(ScanResult))


def result_of(document: Mapping[str, Any]) -> ScanResult:
    """The :class:`ScanResult` inside a rendered result document.

    Only the result's own keys are read: the document also carries ``scanId``,
    ``goal`` and links, and may gain more keys without breaking the report.
    """
    try:
        return structure({k: v for k, v in document.items() if k in _RESULT_KEYS}, ScanResult)
    except ValidationFailed as exc:
        # A stored result that does not read back is our fault, never the caller's.
        log.error("a stored scan result does not read back: %s", exc.message)
        raise InternalError(
            "This scan's stored result cannot be shown as a report; quote the Request-Id "
            "header to support."
        ) from None


class ReportService:
    """The reports of one environment's scans."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.scans = ScanService(env)

    def render(self, project_id: str, scan_id: str) -> str:
        """The HTML report of a completed scan.

        :raises NotFound: no such scan in this project and environment.
        :raises ScanNotCompleted: the scan has no result (yet).
        """
        record, document = self.scans.completed(project_id, scan_id)
        view = ReportView(
            scan_id=scan_id,
            # Stored goals were validated when the scan was created.
            goal=cast(Goal, record.goal),
            completed_at=record.completed_at,
            result=result_of(document),
            sandbox=self.env.name == "sandbox",
        )
        return render_report(view)


# --- links -----------------------------------------------------------------------------


def report_links(platform: Platform) -> ReportLinks:
    """The link signer of ``platform``, keyed by a key derived for report links."""
    # Cheap to make (one HMAC derives the key), so made per use rather than cached.
    return ReportLinks(platform.derived_key(PURPOSE), platform.clock)


def report_url(platform: Platform, base_url: str, principal: Principal, scan_id: str) -> str:
    """An absolute, signed link to ``scan_id``'s report for the key of ``principal``.

    ``base_url`` is the configured ``public_url`` when set (behind a proxy the
    request's own address is not the one a homeowner can reach).
    """
    token = report_links(platform).token(scan_id, principal.environment, principal.key_id)
    base = platform.config.public_url or base_url.rstrip("/")
    return f"{base}{REPORT_PATH.format(id=quote(scan_id, safe=''))}?token={token}"


def link_principal(access: AccessService, grant: ReportGrant) -> Principal:
    """Who a verified link acts for: the key that asked for it, if it is still valid.

    :raises Unauthorized: the key was revoked or deleted.
    :raises LiveAccessDisabled: live access was withdrawn from the project.
    """
    try:
        return access.key_principal(grant.key_id, grant.environment)
    except Unauthorized:
        raise Unauthorized(INVALID_LINK) from None
    except LiveAccessDisabled:
        raise LiveAccessDisabled(
            "Live access is no longer enabled for this project; its live reports cannot be "
            "opened."
        ) from None
