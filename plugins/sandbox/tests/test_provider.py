"""The provider: catalogue, capabilities, mock credentials, device creation, the hook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pluggy
import pytest

from wattbridge import hookspecs
from wattbridge.drivers.devices import (
    DEVICE_TYPES,
    DeviceProvider,
    InvalidCredentials,
    LinkCredentials,
    NotCapable,
    SimulatesDevices,
)
from wattbridge_sandbox.catalogue import CATALOGUE

CANONICAL = {
    "vehicle": {"charge", "idle"},
    "ev_charger": {"charge", "idle"},
    "battery": {"charge", "discharge", "idle", "auto.balanced", "auto.reserve", "auto.export"},
    "solar_inverter": set(),
}
UNITS = {"target": "percent", "reserve": "percent", "power": "kw"}


def test_implements_the_protocols(provider):
    assert isinstance(provider, DeviceProvider) and isinstance(provider, SimulatesDevices)
    assert provider.name == "sandbox" and provider.environments == frozenset({"sandbox"})


def test_vendors_cover_every_type_with_several_auth_schemes(provider):
    for device_type in DEVICE_TYPES:
        offering = [v for v in provider.vendors if device_type in v.device_types]
        assert len(offering) >= 3
    assert {v.auth_scheme for v in provider.vendors} == {"password", "api_key", "local_host"}
    assert len({v.id for v in provider.vendors}) == len(provider.vendors)


def test_capabilities_are_presence_based(h, provider):
    commands_seen: dict[str, set[frozenset[str]]] = {t: set() for t in DEVICE_TYPES}
    for entry in CATALOGUE:
        for model in entry.models:
            device = h.as_ref(
                provider,
                model.device_type,
                f"cap-{model.name}",
                vendor=entry.vendor.id,
                model=model.name,
            )
            caps = provider.capabilities(device)
            assert set(caps.commands) <= CANONICAL[model.device_type]
            commands_seen[model.device_type].add(frozenset(caps.commands))
            for spec in caps.commands.values():
                assert spec.execution == ("immediate", "scheduled", "windowed")
                for name, parameter in spec.parameters.items():
                    assert parameter.unit == UNITS[name] and parameter.min < parameter.max
            for setting in caps.settings.values():
                assert setting.min <= setting.value <= setting.max
            if model.device_type == "battery":
                assert "discharge_floor" in caps.settings
                assert caps.commands["charge"].parameters["power"].max == model.power_kw
    assert commands_seen["solar_inverter"] == {frozenset()}
    assert len(commands_seen["battery"]) >= 3  # some vendors lack some modes


def test_execute_completes_after_a_short_latency(h, provider):
    device = h.as_ref(provider, "battery", "exec", vendor="sundial")
    now = datetime(2026, 6, 1, tzinfo=UTC)
    outcome = provider.execute(device, h.action("charge", now, None, target=80))
    assert outcome.status == "completed" and outcome.latency == timedelta(seconds=2)
    with pytest.raises(NotCapable):
        provider.execute(device, h.action("discharge", now, None))  # Sundial has no discharge


def test_read_state_is_a_projection(h, provider):
    device = h.as_ref(provider, "vehicle", "proj")
    at = datetime(2026, 6, 1, 7, 30, tzinfo=UTC)
    reading = provider.read_state(device, at, [])
    assert reading.source == "projection" and reading.observed_at == at
    assert set(reading.state) == {
        "batteryLevel",
        "range",
        "plugged",
        "charging",
        "fullyCharged",
        "batteryCapacity",
        "chargeLimit",
        "chargeRate",
    }


def test_create_device_chooses_from_the_seed_and_validates(provider):
    first = provider.create_device("battery", None, None, "seed-1")
    assert provider.create_device("battery", None, None, "seed-1") == first
    assert first.attributes["seed"] == "seed-1" and first.vendor in {e.vendor.id for e in CATALOGUE}
    named = provider.create_device("vehicle", "Voltra Motors", "voltra e3", "seed-2")
    assert (named.vendor, named.model) == ("voltra", "Voltra E3")
    with pytest.raises(ValueError, match=r"voltra .*nordvik"):
        provider.create_device("vehicle", "Teslux", None, "s")
    with pytest.raises(ValueError, match=r"Voltra E3, Voltra E5 Long Range"):
        provider.create_device("vehicle", "voltra", "Model Q", "s")
    with pytest.raises(ValueError, match="battery"):
        provider.create_device("vehicle", "sundial", None, "s")  # a battery vendor
    seeds = {
        provider.create_device("solar_inverter", None, None, f"s{i}").vendor for i in range(30)
    }
    assert len(seeds) >= 3


def _password(username, password, mfa_code=None, vendor="voltra"):
    return LinkCredentials(
        vendor=vendor, device_type=None, username=username, password=password, mfa_code=mfa_code
    )


def test_link_with_password_sandbox(provider):
    result = provider.link(_password("alice@example.com", "sandbox"))
    assert not result.mfa_required and 1 <= len(result.devices) <= 3
    again = provider.link(_password("alice@example.com", "sandbox"))
    assert [d.external_id for d in again.devices] == [d.external_id for d in result.devices]
    assert all(d.vendor == "voltra" and d.type == "vehicle" for d in result.devices)
    counts = {len(provider.link(_password(f"user{i}", "sandbox")).devices) for i in range(30)}
    assert counts == {1, 2, 3}
    other = provider.link(_password("bob@example.com", "sandbox"))
    assert {d.external_id for d in other.devices}.isdisjoint(d.external_id for d in result.devices)


def test_link_refusals_and_mfa(provider):
    with pytest.raises(InvalidCredentials):
        provider.link(_password("alice", "invalid"))
    with pytest.raises(InvalidCredentials):
        provider.link(_password("alice", "hunter2"))
    with pytest.raises(InvalidCredentials):
        provider.link(_password("", "sandbox"))
    ask = provider.link(_password("alice", "mfa"))
    assert ask.mfa_required and not ask.devices and "123456" in (ask.mfa_prompt or "")
    with pytest.raises(InvalidCredentials):
        provider.link(_password("alice", "mfa", mfa_code="000000"))
    done = provider.link(_password("alice", "mfa", mfa_code="123456"))
    assert not done.mfa_required and done.devices


def test_link_with_api_key_and_host(provider):
    for vendor, field in (("sundial", "api_key"), ("helion", "host")):
        ok = provider.link(LinkCredentials(vendor=vendor, device_type=None, **{field: "abc123"}))
        assert ok.devices
        for bad in ("invalid", ""):
            with pytest.raises(InvalidCredentials):
                provider.link(LinkCredentials(vendor=vendor, device_type=None, **{field: bad}))
    only = provider.link(LinkCredentials(vendor="helion", device_type="solar_inverter", host="h"))
    assert {d.type for d in only.devices} == {"solar_inverter"}
    with pytest.raises(InvalidCredentials):
        provider.link(LinkCredentials(vendor="nobody", device_type=None, api_key="k"))


def test_linked_devices_can_be_read(h, provider):
    from wattbridge.drivers.devices import DeviceRef

    for found in provider.link(_password("carol", "sandbox", vendor="corvane")).devices:
        ref = DeviceRef(
            "dev_x", found.type, found.vendor, found.model, found.external_id, found.attributes
        )
        assert provider.read_state(ref, datetime(2026, 1, 1, tzinfo=UTC), []).state["level"] > 0
        bare = DeviceRef("dev_y", found.type, found.vendor, found.model, found.external_id, {})
        assert provider.read_state(bare, datetime(2026, 1, 1, tzinfo=UTC), []).state


def test_diagnostics_list_vendors(provider):
    diagnostics = provider.diagnostics()
    assert diagnostics["provider"] == "sandbox"
    assert {v["id"] for v in diagnostics["vendors"]} == {v.id for v in provider.vendors}


def test_hook_registers_the_provider():
    import wattbridge_sandbox

    manager = pluggy.PluginManager("wattbridge")
    manager.add_hookspecs(hookspecs)
    manager.register(wattbridge_sandbox)
    registered = []
    manager.hook.register_device_providers(register=registered.append)
    assert [p.name for p in registered] == ["sandbox"]
