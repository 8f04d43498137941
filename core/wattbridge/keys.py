"""API keys: format, checksum, hashing. Pure functions, no storage.

A key reads ``{prefix}_{test|live}_{secret}``: ``secret`` is 32 random base62
characters followed by a 6-character base62 CRC32 of everything before it.
The checksum lets us refuse a typo or a truncated key without touching the
database. Keys are stored only as an HMAC-SHA-256 under a server secret, so a
stolen database does not reveal usable keys, and the hash is a fixed-width
lookup value.
"""

from __future__ import annotations

import hmac
import re
import secrets
import zlib

import attrs

from wattbridge.drivers.base import EnvironmentName

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6
_MODES: dict[str, EnvironmentName] = {"test": "sandbox", "live": "live"}
_MODE_OF: dict[EnvironmentName, str] = {"sandbox": "test", "live": "live"}
_SHAPE = re.compile(
    rf"^([a-z]{{2,8}})_(test|live)_([0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}})$"
)


@attrs.frozen
class ParsedKey:
    """A well-formed key with a valid checksum (not yet known to exist)."""

    prefix: str
    environment: EnvironmentName
    plaintext: str = attrs.field(repr=False)

    @property
    def hint(self) -> str:
        """A safe way to show the key: prefix, mode and its last four characters."""
        return hint_for(self.plaintext)


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        digits.append(BASE62[rem])
    return "".join(reversed(digits))


def checksum(text: str) -> str:
    """The 6-character base62 CRC32 of ``text``."""
    return _base62(zlib.crc32(text.encode("ascii")), CHECKSUM_LENGTH)


def generate(prefix: str, environment: EnvironmentName) -> str:
    """Create a new random key for ``environment``."""
    random_part = "".join(secrets.choice(BASE62) for _ in range(RANDOM_LENGTH))
    body = f"{prefix}_{_MODE_OF[environment]}_{random_part}"
    return body + checksum(body)


def parse(text: str, accepted_prefixes: tuple[str, ...]) -> ParsedKey | None:
    """Check a key's shape, prefix and checksum; None when any of them is wrong.

    Deliberately returns no reason: callers answer every bad key the same way.
    """
    match = _SHAPE.match(text)
    if match is None or match.group(1) not in accepted_prefixes:
        return None
    body, given = text[:-CHECKSUM_LENGTH], text[-CHECKSUM_LENGTH:]
    if not hmac.compare_digest(checksum(body), given):
        return None
    return ParsedKey(match.group(1), _MODES[match.group(2)], text)


def digest(plaintext: str, server_secret: bytes) -> str:
    """The stored form of a key: hex HMAC-SHA-256 under the server secret."""
    # hmac.digest is the one-call C form of hmac.new(...).digest(); a key is
    # hashed on every request. UTF-8 equals ASCII for every well-formed key and
    # lets a malformed one (a header may carry any Latin-1 text) hash rather than fail.
    return hmac.digest(server_secret, plaintext.encode("utf-8"), "sha256").hex()


def hint_for(plaintext: str) -> str:
    """``sk_test_…AbCd``: enough to recognise a key, useless to an attacker."""
    prefix, mode, _ = plaintext.split("_", 2)
    return f"{prefix}_{mode}_…{plaintext[-4:]}"
