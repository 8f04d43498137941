"""Standard Webhooks signing: our signatures verify with the reference library and ours."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from wattbridge import __version__
from wattbridge.webhooks.signing import (
    InvalidSignature,
    decode_secret,
    generate_secret,
    sign,
    signed_headers,
    verify,
)

BODY = (
    b'{"id":"evt_1","type":"scan.completed","createdAt":"2026-06-01T10:30:00.000Z",'
    b'"environment":"sandbox","data":{"id":"scan_1","status":"completed","note":"\xc3\xa9"}}'
)
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
Tamper = Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]]


def _reference_verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    Webhook(secret).verify(body, headers, json_parse=False)


def test_generated_secrets_are_whsec_base64_of_32_random_bytes() -> None:
    secrets = {generate_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert len(decode_secret(generate_secret(24))) == 24
    with pytest.raises(ValueError):
        generate_secret(16)


def test_signature_matches_the_specification_test_vector() -> None:
    # The example from the Standard Webhooks specification.
    signature = sign(
        ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signed_headers_verify_with_the_reference_library_and_ours() -> None:
    secret = generate_secret()
    now = int(time.time())  # the reference library reads the real clock
    headers = signed_headers(MSG_ID, now, BODY, [secret])
    assert headers["webhook-id"] == MSG_ID
    assert headers["webhook-timestamp"] == str(now)
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == f"wattbridge-webhooks/{__version__}"
    _reference_verify(secret, headers, BODY)
    verify(secret, headers, BODY, now=now)
    # Header names are case-insensitive on the wire.
    verify(secret, {k.title(): v for k, v in headers.items()}, BODY, now=now)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h, b: (h, b.replace(b"completed", b"failed!!!")), id="body"),
        pytest.param(lambda h, b: (h, b + b" "), id="body-whitespace"),
        pytest.param(lambda h, b: ({**h, "webhook-id": "msg_other"}, b), id="id"),
        pytest.param(
            lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
            id="timestamp",
        ),
    ],
)
def test_tampering_is_rejected_by_both_verifiers(tamper: Tamper) -> None:
    secret = generate_secret()
    now = int(time.time())
    headers, body = tamper(signed_headers(MSG_ID, now, BODY, [secret]), BODY)
    with pytest.raises(WebhookVerificationError):
        _reference_verify(secret, headers, body)
    with pytest.raises(InvalidSignature, match="no v1 signature matches"):
        verify(secret, headers, body, now=now)


def test_wrong_secret_is_rejected_by_both_verifiers() -> None:
    now = int(time.time())
    headers = signed_headers(MSG_ID, now, BODY, [generate_secret()])
    other = generate_secret()
    with pytest.raises(WebhookVerificationError):
        _reference_verify(other, headers, BODY)
    with pytest.raises(InvalidSignature):
        verify(other, headers, BODY, now=now)


def test_during_rotation_either_secret_verifies() -> None:
    old, new = generate_secret(), generate_secret()
    now = int(time.time())
    headers = signed_headers(MSG_ID, now, BODY, [new, old])
    entries = headers["webhook-signature"].split(" ")
    assert len(entries) == 2 and all(e.startswith("v1,") for e in entries)
    for secret in (old, new):
        _reference_verify(secret, headers, BODY)
        verify(secret, headers, BODY, now=now)
    with pytest.raises(InvalidSignature):
        verify(generate_secret(), headers, BODY, now=now)


def test_timestamps_outside_the_tolerance_are_rejected() -> None:
    secret = generate_secret()
    sent = 1_780_000_000
    headers = signed_headers(MSG_ID, sent, BODY, [secret])
    verify(secret, headers, BODY, now=sent + 300)  # the edge is still accepted
    verify(secret, headers, BODY, now=sent - 300)
    with pytest.raises(InvalidSignature, match=r"301 s old"):
        verify(secret, headers, BODY, now=sent + 301)
    with pytest.raises(InvalidSignature, match=r"in the future"):
        verify(secret, headers, BODY, now=sent - 301)
    with pytest.raises(InvalidSignature, match=r"old"):
        verify(secret, headers, BODY, now=sent + 61, tolerance=60)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"webhook-signature": ""}, "missing header: webhook-signature"),
        ({"webhook-id": "", "webhook-timestamp": ""}, "webhook-id, webhook-timestamp"),
        ({"webhook-timestamp": "1780000000.5"}, "not integer Unix seconds"),
        ({"webhook-timestamp": "-5"}, "not integer Unix seconds"),
        ({"webhook-signature": "v1,not-base64!!"}, "no v1 signature matches"),
        ({"webhook-signature": "garbage"}, "no v1 signature matches"),
    ],
)
def test_malformed_headers_are_rejected_with_a_reason(change: dict[str, str], message: str) -> None:
    secret = generate_secret()
    headers = {**signed_headers(MSG_ID, 1_780_000_000, BODY, [secret]), **change}
    with pytest.raises(InvalidSignature, match=message):
        verify(secret, headers, BODY, now=1_780_000_000)


def test_unknown_signature_versions_are_ignored_next_to_a_valid_v1() -> None:
    secret = generate_secret()
    headers = signed_headers(MSG_ID, 1_780_000_000, BODY, [secret])
    headers["webhook-signature"] = "v1a,AAAA " + headers["webhook-signature"]
    verify(secret, headers, BODY, now=1_780_000_000)
    headers["webhook-signature"] = headers["webhook-signature"].replace("v1,", "v2,")
    with pytest.raises(InvalidSignature):
        verify(secret, headers, BODY, now=1_780_000_000)


def test_unusable_secrets_are_refused_without_echoing_them() -> None:
    for bad in ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_%%%%", "whsec_c2hvcnQ="):
        with pytest.raises(ValueError) as info:
            decode_secret(bad)
        assert bad.removeprefix("whsec_") not in str(info.value)
    headers = signed_headers(MSG_ID, 1_780_000_000, BODY, [generate_secret()])
    with pytest.raises(InvalidSignature, match="secret is unusable"):
        verify("whsec_c2hvcnQ=", headers, BODY, now=1_780_000_000)


def test_sign_needs_a_sequence_of_secrets() -> None:
    secret = generate_secret()
    with pytest.raises(TypeError):
        sign(secret, MSG_ID, 1, BODY)
    with pytest.raises(ValueError):
        sign([], MSG_ID, 1, BODY)
    # Unpadded base64 (as some libraries print it) is the same key.
    unpadded = secret.rstrip("=")
    assert sign([unpadded], MSG_ID, 1, BODY) == sign([secret], MSG_ID, 1, BODY)


def _documented_python(heading: str) -> str:
    """The first Python code block after ``heading`` in docs/webhooks.md."""
    text = (Path(__file__).parent.parent / "docs" / "webhooks.md").read_text()
    section = text[text.index(heading) :]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, heading
    return found.group(1)


def test_the_documented_hand_written_verifier_works() -> None:
    namespace: dict[str, object] = {}
    exec(_documented_python("### Without a library"), namespace)  # our own documentation
    documented = namespace["verify"]
    assert callable(documented)
    secret, other = generate_secret(), generate_secret()
    headers = signed_headers(MSG_ID, int(time.time()), BODY, [other, secret])
    assert documented(secret, headers, BODY) is True
    assert documented(secret, headers, BODY.replace(b"scan_1", b"scan_2")) is False
    assert documented(generate_secret(), headers, BODY) is False
    old = signed_headers(MSG_ID, int(time.time()) - 600, BODY, [secret])
    assert documented(secret, old, BODY) is False


def test_the_documented_library_example_works() -> None:
    namespace: dict[str, object] = {
        "already_processed": lambda msg_id: False,
        "enqueue": lambda event: None,
    }
    source = _documented_python("### Python, with the `standardwebhooks` package")
    secret = generate_secret()
    exec(source.replace('"whsec_…"', repr(secret)), namespace)  # our own documentation
    handle = namespace["handle"]
    assert callable(handle)
    headers = signed_headers(MSG_ID, int(time.time()), BODY, [secret])
    assert handle(BODY, headers) == 200
    assert handle(BODY + b" ", headers) == 400
