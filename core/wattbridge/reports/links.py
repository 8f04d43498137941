"""Signed, short-lived report links: how a homeowner opens a report without an API key.

A browser following a link cannot send ``Authorization: Bearer``, and API keys
never go into URLs. So the result carries a ``reportUrl`` whose ``token`` grants
exactly one thing: reading one scan's report, for :data:`LINK_TTL`.

The token is ``{environment}.{keyId}.{expires}.{signature}``, where the signature
is HMAC-SHA-256 over the scan id, environment, key id and expiry (Unix seconds),
under a key derived from the server secret for this purpose only. The scan id is
signed but not in the token, so a token works only on the URL it was made for.
Verification checks the shape and the signature before any database lookup,
in constant time; the caller then checks that the key that asked for the link is
still valid (revoking the key disables its links at once).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

import attrs

from wattbridge.clock import Clock, isoformat
from wattbridge.drivers.base import ENVIRONMENTS, EnvironmentName
from wattbridge.errors import Unauthorized

LINK_TTL = timedelta(hours=1)
"""How long a report link works after the result was fetched."""

PURPOSE = b"wattbridge report link v1"
"""What report-link keys are derived for (:meth:`wattbridge.platform.Platform.derived_key`)."""
_TOKEN = re.compile(
    r"^(sandbox|live)\.(key_[0-9A-Za-z]{1,64})\.([0-9]{1,12})\.([0-9A-Za-z_-]{43})$"
)
MAX_TOKEN_LENGTH = 200

INVALID_LINK = (
    "This report link is not valid. Open the reportUrl of the scan's result "
    "(GET /v1/scans/{id}/result) or send an API key as 'Authorization: Bearer <key>'."
)


@attrs.frozen
class ReportGrant:
    """What a valid token allows: reading ``scan_id`` as ``key_id`` until ``expires_at``."""

    scan_id: str
    environment: EnvironmentName
    key_id: str
    expires_at: datetime


class ReportLinks:
    """Makes and checks report link tokens."""

    def __init__(self, key: bytes, clock: Clock, ttl: timedelta = LINK_TTL) -> None:
        # ``key`` is the platform's key for PURPOSE only (Platform.derived_key), so a
        # report token can never be confused with any other HMAC the server makes.
        self._key = key
        self.clock = clock
        self.ttl = ttl

    def _signature(self, scan_id: str, environment: str, key_id: str, expires: int) -> str:
        message = f"{scan_id}\n{environment}\n{key_id}\n{expires}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def token(self, scan_id: str, environment: EnvironmentName, key_id: str) -> str:
        """A token for ``scan_id``'s report, valid for :attr:`ttl` from now."""
        expires = int((self.clock.now() + self.ttl).timestamp())
        signature = self._signature(scan_id, environment, key_id, expires)
        return f"{environment}.{key_id}.{expires}.{signature}"

    def verify(self, token: str, scan_id: str) -> ReportGrant:
        """The grant of a token presented for ``scan_id``.

        :raises Unauthorized: malformed, forged, made for another scan, or expired.
        """
        match = _TOKEN.match(token) if len(token) <= MAX_TOKEN_LENGTH else None
        if match is None:
            raise Unauthorized(INVALID_LINK)
        environment, key_id, expires_text, signature = match.groups()
        expires = int(expires_text)
        expected = self._signature(scan_id, environment, key_id, expires)
        if not hmac.compare_digest(expected, signature):
            raise Unauthorized(INVALID_LINK)
        expires_at = datetime.fromtimestamp(expires, UTC)
        if self.clock.now() >= expires_at:
            raise Unauthorized(
                f"This report link expired at {isoformat(expires_at)}. Fetch the scan's result "
                "again (GET /v1/scans/{id}/result) for a fresh reportUrl."
            )
        assert environment in ENVIRONMENTS
        env: EnvironmentName = "live" if environment == "live" else "sandbox"
        return ReportGrant(scan_id, env, key_id, expires_at)
