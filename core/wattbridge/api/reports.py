"""``GET /v1/scans/{id}/report``: a completed scan's report, as a self-contained HTML page.

The route accepts either an API key in the usual headers or the signed ``token``
of the result's ``reportUrl`` (a browser following a link cannot send headers;
API keys in the query string stay refused): its ``authenticator`` replaces the
route wrapper's key check, and everything else (errors rendered with the
environment that served them) is the wrapper's, as on every route.
See docs/report.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from wattbridge.api import scans as scan_api
from wattbridge.api.routing import (
    QUERY_KEY_NAMES,
    ApiRoute,
    Call,
    Param,
    authenticate,
)
from wattbridge.errors import Unauthorized
from wattbridge.reports.links import LINK_TTL, MAX_TOKEN_LENGTH
from wattbridge.reports.service import (
    REPORT_PATH,
    ReportService,
    link_principal,
    report_links,
    report_url,
)
from wattbridge.services.access import Principal

if TYPE_CHECKING:
    from wattbridge.environments import Environment
    from wattbridge.platform import Platform

HTML_TYPE = "text/html; charset=utf-8"

REPORT_HEADERS = {
    # Nothing on the page loads anything: no scripts, no requests, inline styles only.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'",
    # The URL carries a token: keep it out of Referer headers and shared caches.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
}

TOKEN = Param(
    "token",
    {"type": "string", "maxLength": MAX_TOKEN_LENGTH},
    "The signed token of the result's reportUrl; replaces the API key on this route.",
)


def _caller(platform: Platform, request: Request) -> tuple[Principal, Environment]:
    # A present token is the credential (even if empty: no silent fallback).
    token = request.query_params.get("token")
    if token is None:
        return authenticate(platform, request)
    if any(name in request.query_params for name in QUERY_KEY_NAMES):
        raise Unauthorized(
            "API keys are not accepted in the query string (it ends up in logs); open the "
            "report with its reportUrl or send the key as 'Authorization: Bearer <key>'."
        )
    grant = report_links(platform).verify(token, request.path_params["id"])
    principal = link_principal(platform.access, grant)
    return principal, platform.environment(principal.environment)


def get_scan_report(call: Call) -> Response:
    """A completed scan's report as an HTML page."""
    page = ReportService(call.environment).render(call.project_id, call.path_params["id"])
    return Response(page, media_type=HTML_TYPE, headers=REPORT_HEADERS)


def with_report_url(call: Call, result: dict[str, Any]) -> dict[str, Any]:
    """``result`` (a rendered scan result) with its ``reportUrl`` for the calling key."""
    assert call.principal is not None
    url = report_url(call.platform, str(call.request.base_url), call.principal, result["scanId"])
    return {**result, "reportUrl": url}


ROUTES = [
    ApiRoute(
        "GET",
        REPORT_PATH,
        get_scan_report,
        "Get a completed scan's report (HTML)",
        "scans",
        authenticator=_caller,
        query=(TOKEN,),
        response="ScanReport",
        errors=(401, 403, 404, 409),
        loop_first=False,  # charts take milliseconds: not on the loop every request shares
    ),
]

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

OPERATIONS: dict[str, dict[str, Any]] = {
    f"GET {REPORT_PATH}": {
        "description": "A self-contained HTML page (inline CSS and SVG, no scripts or external "
        "resources) with the recommendation, key figures and charts. Authenticate with an "
        "API key header, or open the result's reportUrl, whose signed token replaces the key "
        f"for {int(LINK_TTL.total_seconds() // 60)} minutes. See docs/report.md.",
        "security": [{"bearer": []}, {"apiKey": []}, {"reportToken": []}],
        "responses": {
            "200": {
                "description": "The report page",
                "content": {"text/html": {"schema": {"$ref": "#/components/schemas/ScanReport"}}},
            },
            "401": {
                "description": "Missing or invalid API key; invalid or expired link",
                "content": _ERROR,
            },
            "403": {"description": "LIVE_ACCESS_DISABLED", "content": _ERROR},
            "404": {"description": "Not found in this project and environment", "content": _ERROR},
            "409": {
                "description": "SCAN_NOT_COMPLETED: no result yet, or the scan failed",
                "content": _ERROR,
            },
        },
    }
}
"""OpenAPI details the route declaration cannot express (an HTML answer, a third credential)."""

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "reportToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "The signed, short-lived token in a result's reportUrl. Only "
        "GET /v1/scans/{id}/report accepts it; API keys are never accepted in the query.",
    }
}

_RESULT = scan_api.SCHEMAS["ScanResult"]

SCHEMAS: dict[str, dict[str, Any]] = {
    "ScanReport": {
        "type": "string",
        "contentMediaType": "text/html",
        "description": "A self-contained HTML page.",
    },
    # The scan result as GET /v1/scans/{id}/result renders it, plus its report link
    # (added by with_report_url); this module is listed after the scans module, so
    # this definition is the one the document uses.
    "ScanResult": {
        **_RESULT,
        "required": [*_RESULT["required"], "reportUrl"],
        "properties": {
            **_RESULT["properties"],
            "reportUrl": {
                "type": "string",
                "format": "uri",
                "description": "The scan's report page (GET /v1/scans/{id}/report) with a "
                "signed token that replaces the API key; valid for "
                f"{int(LINK_TTL.total_seconds() // 60)} minutes, each read gives a fresh one.",
            },
        },
    },
}
