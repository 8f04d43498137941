"""Key format, checksum and hashing."""

from __future__ import annotations

import re

from wattbridge import keys


def test_generated_key_has_the_documented_shape() -> None:
    key = keys.generate("sk", "sandbox")
    assert re.fullmatch(r"sk_test_[0-9A-Za-z]{38}", key)
    body, check = key[:-6], key[-6:]
    assert keys.checksum(body) == check
    assert keys.generate("zs", "live").startswith("zs_live_")


def test_parse_accepts_valid_keys_and_reports_environment() -> None:
    parsed = keys.parse(keys.generate("zs", "live"), ("sk", "zs"))
    assert parsed is not None
    assert parsed.environment == "live"
    assert parsed.prefix == "zs"


def test_parse_refuses_wrong_checksum_shape_and_prefix() -> None:
    key = keys.generate("sk", "sandbox")
    flipped = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert keys.parse(flipped, ("sk",)) is None
    assert keys.parse(key[:-1], ("sk",)) is None
    assert keys.parse(key.replace("_test_", "_prod_"), ("sk",)) is None
    assert keys.parse(key, ("zs",)) is None
    assert keys.parse("", ("sk",)) is None
    # Changing one character of the random part breaks the checksum too.
    middle = key[10]
    other = "a" if middle != "a" else "b"
    assert keys.parse(key[:10] + other + key[11:], ("sk",)) is None


def test_environment_cannot_be_changed_by_editing_the_mode() -> None:
    key = keys.generate("sk", "sandbox")
    assert keys.parse(key.replace("_test_", "_live_"), ("sk",)) is None


def test_digest_depends_on_server_secret_and_hint_hides_the_key() -> None:
    key = keys.generate("sk", "sandbox")
    assert keys.digest(key, b"a" * 32) != keys.digest(key, b"b" * 32)
    assert len(keys.digest(key, b"a" * 32)) == 64
    hint = keys.hint_for(key)
    assert hint.startswith("sk_test_…") and hint.endswith(key[-4:])
    assert key[8:-4] not in hint
