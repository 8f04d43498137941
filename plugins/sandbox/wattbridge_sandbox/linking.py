"""The sandbox's mock sign-in: fixed credentials that exercise every Link UI path.

- password vendors: any username with password ``sandbox`` links; ``invalid``
  is refused; ``mfa`` asks for a code, and ``123456`` is the right one;
- API-key and local-host vendors: any non-empty key or host links, except the
  value ``invalid``.

The account's devices (1-3) are hashed from the account name and the vendor,
so linking the same account again finds the same devices (same external ids).
"""

from __future__ import annotations

from wattbridge.drivers.devices import DeviceType, InvalidCredentials, LinkCredentials
from wattbridge_sandbox.catalogue import VendorEntry
from wattbridge_sandbox.seeding import draws, hex_id, pick

SANDBOX_PASSWORD = "sandbox"
MFA_PASSWORD = "mfa"
MFA_CODE = "123456"
REFUSED = "invalid"
MFA_PROMPT = "Enter the 6-digit code sent to your phone (sandbox code: 123456)."


class MfaRequired(Exception):
    """The account needs a second factor before its devices can be listed."""


def account_of(entry: VendorEntry, credentials: LinkCredentials) -> str:
    """Check ``credentials`` against the mock rules and return the account name.

    :raises InvalidCredentials: the credentials are refused (message says why).
    :raises MfaRequired: the MFA step is needed and no code was given yet.
    """
    scheme = entry.vendor.auth_scheme
    if scheme == "password":
        return _password_account(credentials)
    value = credentials.api_key if scheme == "api_key" else credentials.host
    label = "API key" if scheme == "api_key" else "host"
    value = (value or "").strip()
    if not value:
        raise InvalidCredentials(f"{entry.vendor.name} needs an {label} to link.")
    if value == REFUSED:
        raise InvalidCredentials(f"{entry.vendor.name} refused the {label}.")
    return value


def _password_account(credentials: LinkCredentials) -> str:
    username = (credentials.username or "").strip()
    if not username:
        raise InvalidCredentials("Enter a username (any username works in sandbox).")
    password = credentials.password or ""
    if password == SANDBOX_PASSWORD:
        return username
    if password == MFA_PASSWORD:
        if credentials.mfa_code is None or credentials.mfa_code == "":
            raise MfaRequired(MFA_PROMPT)
        if credentials.mfa_code.strip() != MFA_CODE:
            raise InvalidCredentials("The verification code is wrong.")
        return username
    raise InvalidCredentials(
        "Invalid username or password. In sandbox use the password 'sandbox' "
        "('mfa' to try the verification step, 'invalid' to see this error)."
    )


def account_devices(
    entry: VendorEntry, account: str, device_type: DeviceType | None
) -> list[tuple[str, DeviceType, str]]:
    """The account's devices as ``(external_id, type, seed)``, 1-3 of them, stable."""
    types = entry.vendor.device_types
    if device_type is not None:
        types = tuple(t for t in types if t == device_type)
    if not types:
        return []
    u = draws("account", entry.vendor.id, account)
    count = 1 + int(u[0] * 3)
    devices = []
    for index in range(count):
        kind = pick(types, u[1 + index])
        seed = f"link:{entry.vendor.id}:{account}:{kind}:{index}"
        devices.append((f"sbx_{hex_id(seed, length=16)}", kind, seed))
    return devices
