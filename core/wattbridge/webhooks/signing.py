"""Standard Webhooks signing and verification (https://www.standardwebhooks.com/).

A delivery carries three headers: ``webhook-id`` (the same on every retry, so
receivers can deduplicate), ``webhook-timestamp`` (integer Unix seconds of this
attempt) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` of the bytes
``{id}.{timestamp}.{body}`` keyed with the decoded endpoint secret. During a
secret rotation every valid secret signs, and the signatures are joined with
spaces; a receiver accepts the delivery if any one of them matches.

The verifier here is written by hand (rather than delegating to the
``standardwebhooks`` package) so the core has no runtime dependency for it; the
tests check both against each other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _random
from collections.abc import Mapping, Sequence

from wattbridge import __version__

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
USER_AGENT = f"wattbridge-webhooks/{__version__}"

# The specification recommends keys of 24 to 64 bytes; shorter keys are refused
# when decoding so a truncated secret fails loudly instead of signing weakly.
_MIN_KEY_BYTES = 24
_MAX_KEY_BYTES = 64


class InvalidSignature(Exception):
    """A delivery failed verification; the message says why, without secret material."""


def generate_secret(nbytes: int = 32) -> str:
    """Return a new endpoint secret: ``whsec_`` followed by base64 of ``nbytes`` random bytes."""
    if not _MIN_KEY_BYTES <= nbytes <= _MAX_KEY_BYTES:
        raise ValueError(f"a secret needs {_MIN_KEY_BYTES} to {_MAX_KEY_BYTES} bytes, not {nbytes}")
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(nbytes)).decode("ascii")


def decode_secret(secret: str) -> bytes:
    """Return the HMAC key inside a ``whsec_<base64>`` secret.

    :raises ValueError: if the secret lacks the prefix, is not base64, or has a key
        shorter than 24 bytes (the message never repeats the secret).
    """
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX!r}")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        # Padding is optional in the wild; re-pad so both spellings decode.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None
    if len(key) < _MIN_KEY_BYTES:
        raise ValueError(f"a webhook secret holds at least {_MIN_KEY_BYTES} bytes of key")
    return key


def _signed_content(msg_id: str, timestamp: int | str, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def _signature(key: bytes, content: bytes) -> bytes:
    return hmac.new(key, content, hashlib.sha256).digest()


def sign(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value: one ``v1,<base64>`` per secret, space-separated.

    :param secrets: every currently valid secret of the endpoint (two during a rotation).
    :param msg_id: the ``webhook-id`` of the delivery.
    :param timestamp: integer Unix seconds of this attempt.
    :param body: the exact bytes that will be sent.
    """
    if isinstance(secrets, str):
        # A bare string is a Sequence[str] of characters: a classic silent bug.
        raise TypeError("sign() takes a sequence of secrets, not a single string")
    if not secrets:
        raise ValueError("sign() needs at least one secret")
    content = _signed_content(msg_id, int(timestamp), body)
    return " ".join(
        f"{SIGNATURE_VERSION},{base64.b64encode(_signature(decode_secret(s), content)).decode()}"
        for s in secrets
    )


def signed_headers(
    msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]
) -> dict[str, str]:
    """Return the full header set of one delivery attempt (signature included)."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": sign(secrets, msg_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Check that ``body`` with ``headers`` was signed with ``secret`` recently enough.

    :param secret: the endpoint's ``whsec_`` secret.
    :param headers: the request headers (names are matched case-insensitively).
    :param body: the raw request body, before any JSON parsing.
    :param now: the receiver's current Unix time in seconds.
    :param tolerance: how far (seconds) the timestamp may be from ``now``, either way;
        this is what stops a captured delivery from being replayed later.
    :raises InvalidSignature: saying which check failed.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    timestamp_text = lowered.get("webhook-timestamp", "")
    signature_header = lowered.get("webhook-signature", "")
    missing = [
        name
        for name, value in (
            ("webhook-id", msg_id),
            ("webhook-timestamp", timestamp_text),
            ("webhook-signature", signature_header),
        )
        if not value
    ]
    if missing:
        raise InvalidSignature(
            f"missing header{'s' if len(missing) > 1 else ''}: " + ", ".join(missing)
        )
    timestamp_text = timestamp_text.strip()
    if not timestamp_text.isdigit():
        raise InvalidSignature("webhook-timestamp is not integer Unix seconds")
    timestamp = int(timestamp_text)
    if timestamp < now - tolerance:
        raise InvalidSignature(
            f"webhook-timestamp is {int(now - timestamp)} s old, more than the "
            f"{tolerance} s tolerance (replayed, or the clocks disagree)"
        )
    if timestamp > now + tolerance:
        raise InvalidSignature(
            f"webhook-timestamp is {int(timestamp - now)} s in the future, more than the "
            f"{tolerance} s tolerance (the clocks disagree)"
        )
    try:
        key = decode_secret(secret)
    except ValueError as exc:
        raise InvalidSignature(f"the verifying secret is unusable: {exc}") from None
    expected = _signature(key, _signed_content(msg_id, timestamp_text, body))
    matched = False
    for candidate in signature_header.split():
        version, _, encoded = candidate.partition(",")
        if version != SIGNATURE_VERSION:
            continue  # other schemes (e.g. v1a) may sit alongside; not ours to judge
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Every candidate is compared (no early exit) and in constant time, so
        # the response time says nothing about how close a forgery came.
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise InvalidSignature(
            "no v1 signature matches this secret and body "
            "(wrong secret, or the body, webhook-id or webhook-timestamp was changed)"
        )
