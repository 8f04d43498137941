"""CreateScan validation, the studio check, and the converter behind them."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from wattbridge.errors import FieldError, SandboxStudioUnsupported, ValidationFailed
from wattbridge.models.scans import (
    LOAD_PROFILES,
    BatteryRecommendation,
    EnergyFlows,
    Financial,
    MonthlyEnergy,
    NewPvRecommendation,
    Recommendation,
    ScanInput,
    ScanResult,
    ScanTraits,
)
from wattbridge.serialization import structure, unstructure
from wattbridge.validation.scans import (
    STUDIO_UNSUPPORTED_MESSAGE,
    check_studio_supported,
    validate_scan_input,
)

FULL: dict[str, Any] = {
    "inputMethod": "known",
    "yearlyKwh": 3500,
    "loadProfile": "standard",
    "goal": "cost-savings",
    "location": {"lat": 52.09, "lon": 5.12},
    "existingPv": [{"kWp": 3.2, "tilt": 35, "azimuth": 180}],
    "newPv": [{"maxPanelCount": 12, "panelWp": 430, "tilt": 35, "azimuth": 180}],
    "electricBattery": {"minKwh": 5, "maxKwh": 15},
    "export": {"allowed": True},
    "tariff": {"importPrice": 0.30, "exportPrice": 0.08},
}
MINIMAL: dict[str, Any] = {
    "inputMethod": "known",
    "yearlyKwh": 3500,
    "goal": "self-sufficiency",
    "location": {"lat": 52.09, "lon": 5.12},
}
STUDIO: dict[str, Any] = {
    "inputMethod": "studio",
    "customProfileId": "prof_123",
    "goal": "cost-savings",
    "location": {"lat": 52.09, "lon": 5.12},
}


def body(base: dict[str, Any] = FULL, **changes: Any) -> dict[str, Any]:
    """A copy of ``base``; ``changes`` use dotted paths, ``...`` deletes."""
    data = copy.deepcopy(base)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target: Any = data
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is ...:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return data


def problems(raw: object) -> list[FieldError]:
    with pytest.raises(ValidationFailed) as caught:
        validate_scan_input(raw)
    return caught.value.errors


def only_problem(raw: object) -> FieldError:
    errors = problems(raw)
    assert len(errors) == 1, errors
    return errors[0]


# --- valid inputs and defaults -----------------------------------------------------


def test_the_spec_example_is_valid() -> None:
    scan = validate_scan_input(FULL)
    assert scan.yearly_kwh == 3500
    assert scan.existing_pv[0].k_wp == 3.2
    assert scan.new_pv[0].max_panel_count == 12
    assert scan.electric_battery is not None and scan.electric_battery.max_kwh == 15
    assert scan.export.allowed is True


def test_defaults_are_the_documented_ones() -> None:
    scan = validate_scan_input(
        body(MINIMAL, newPv=[{"maxPanelCount": 4, "tilt": 30, "azimuth": 200}])
    )
    assert scan.load_profile == "standard"
    assert scan.new_pv[0].panel_wp == 430
    assert scan.new_pv[0].price_per_panel == 400
    assert scan.export.allowed is False
    assert (scan.tariff.import_price, scan.tariff.export_price) == (0.30, 0.08)
    assert scan.existing_pv == () and scan.electric_battery is None
    battery = validate_scan_input(body(MINIMAL, electricBattery={"capacityKwh": 10}))
    assert battery.electric_battery is not None
    assert battery.electric_battery.roundtrip_efficiency == 90
    assert battery.electric_battery.minimum_charge_level == 10
    assert battery.electric_battery.price_per_kwh == 500
    assert battery.electric_battery.power_kw is None


def test_a_null_load_profile_means_the_default() -> None:
    assert validate_scan_input(body(MINIMAL, loadProfile=None)).load_profile == "standard"


def test_a_studio_scan_is_valid_and_has_no_standard_profile() -> None:
    scan = validate_scan_input(STUDIO)
    assert scan.custom_profile_id == "prof_123"
    assert scan.yearly_kwh is None and scan.load_profile is None


@pytest.mark.parametrize("profile", sorted(LOAD_PROFILES))
def test_every_load_profile_is_accepted(profile: str) -> None:
    assert validate_scan_input(body(MINIMAL, loadProfile=profile)).load_profile == profile


def test_four_load_profiles_with_descriptions() -> None:
    assert list(LOAD_PROFILES) == [
        "standard",
        "coupleBothAtWork",
        "couple1home1work",
        "3kidsbothwork",
    ]
    assert all(len(text) > 20 for text in LOAD_PROFILES.values())


def test_traits() -> None:
    assert validate_scan_input(FULL).traits == ScanTraits(
        True, True, True, "cost-savings", export_allowed=True, battery_fixed=False
    )
    fixed = validate_scan_input(body(MINIMAL, electricBattery={"capacityKwh": 8}))
    assert fixed.traits == ScanTraits(
        False, False, True, "self-sufficiency", export_allowed=False, battery_fixed=True
    )


# --- shape and types ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([FULL], "expected an object, got an array"),
        ("hello", "expected an object, got 'hello'"),
        (None, "expected an object, got null"),
        (42, "expected an object, got 42"),
    ],
)
def test_a_body_that_is_not_an_object(raw: object, message: str) -> None:
    assert only_problem(raw) == FieldError("$", message)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("yearlyKwh", "abc", "expected a number, got 'abc'"),
        ("yearlyKwh", "3500", "expected a number, got '3500'"),
        ("yearlyKwh", True, "expected a number, got true"),
        ("yearlyKwh", [3500], "expected a number, got an array"),
        ("location__lat", None, "expected a number, got null"),
        ("newPv__0__maxPanelCount", 12.5, "expected an integer, got 12.5"),
        ("newPv__0__maxPanelCount", "12", "expected an integer, got '12'"),
        ("export__allowed", "yes", "expected true or false, got 'yes'"),
        ("export__allowed", 1, "expected true or false, got 1"),
        ("inputMethod", "manual", "must be one of 'known', 'studio'"),
        ("goal", "money", "must be one of 'cost-savings', 'self-sufficiency'"),
        ("goal", 1, "must be one of 'cost-savings', 'self-sufficiency'"),
        (
            "loadProfile",
            "bachelor",
            "must be one of 'standard', 'coupleBothAtWork', 'couple1home1work', '3kidsbothwork'",
        ),
        ("existingPv", {"kWp": 3}, "expected an array, got an object"),
        ("newPv", "panels", "expected an array, got 'panels'"),
        ("location", [52, 5], "expected an object, got an array"),
        ("tariff", 0.3, "expected an object, got 0.3"),
    ],
)
def test_wrong_types_name_the_field(path: str, value: object, message: str) -> None:
    wire_path = "$." + path.replace("__0__", "[0].").replace("__", ".")
    assert only_problem(body(**{path: value})) == FieldError(wire_path, message)


def test_an_integral_float_counts_as_an_integer() -> None:
    scan = validate_scan_input(body(**{"newPv__0__maxPanelCount": 12.0}))
    assert scan.new_pv[0].max_panel_count == 12
    assert type(scan.new_pv[0].max_panel_count) is int


@pytest.mark.parametrize(
    ("path", "wire"),
    [
        ("inputMethod", "$.inputMethod"),
        ("goal", "$.goal"),
        ("location", "$.location"),
        ("location__lon", "$.location.lon"),
        ("existingPv__0__kWp", "$.existingPv[0].kWp"),
        ("existingPv__0__tilt", "$.existingPv[0].tilt"),
        ("newPv__0__maxPanelCount", "$.newPv[0].maxPanelCount"),
        ("newPv__0__azimuth", "$.newPv[0].azimuth"),
    ],
)
def test_missing_required_properties(path: str, wire: str) -> None:
    assert FieldError(wire, "required property is missing") in problems(body(**{path: ...}))


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (body(foo=1), "$.foo"),
        (body(location__alt=3), "$.location.alt"),
        (body(newPv__0__color="black"), "$.newPv[0].color"),
        (body(electricBattery__chemistry="LFP"), "$.electricBattery.chemistry"),
        (body(tariff__currency="EUR"), "$.tariff.currency"),
        (body(export__limitKw=3), "$.export.limitKw"),
        (body(yearly_kwh=3500), "$.yearly_kwh"),  # Python names are not wire names
    ],
)
def test_unknown_properties_are_errors(raw: dict[str, Any], path: str) -> None:
    error = only_problem(raw)
    assert error.path == path
    assert error.message.startswith("unknown property; allowed: ")


def test_unknown_property_message_lists_the_allowed_keys() -> None:
    assert only_problem(body(location__alt=3)).message == ("unknown property; allowed: lat, lon")


# --- ranges --------------------------------------------------------------------------

RANGES = [
    # (path, lowest good, highest good, too low, too high)
    ("location__lat", -90, 90, -90.1, 90.1),
    ("location__lon", -180, 180, -181, 180.5),
    ("yearlyKwh", 0.1, 100_000, 0, 100_001),
    ("existingPv__0__kWp", 0.1, 100, 0, 101),
    ("existingPv__0__tilt", 0, 90, -1, 91),
    ("existingPv__0__azimuth", 0, 360, -0.5, 361),
    ("newPv__0__tilt", 0, 90, -5, 95),
    ("newPv__0__azimuth", 0, 360, -1, 400),
    ("newPv__0__maxPanelCount", 1, 200, 0, 201),
    ("newPv__0__panelWp", 100, 1000, 99, 1001),
    ("newPv__0__pricePerPanel", 0, 5000, -1, 5001),
    ("electricBattery__minKwh", 0, 15, -1, None),
    ("electricBattery__maxKwh", 5, 200, None, 201),
    ("electricBattery__powerKw", 0.1, 100, 0, 101),
    ("electricBattery__roundtripEfficiency", 50, 100, 49.9, 100.1),
    ("electricBattery__minimumChargeLevel", 0, 90, -1, 91),
    ("electricBattery__pricePerKwh", 0, 10_000, -0.01, 10_001),
    ("tariff__importPrice", 0, 10, -0.01, 10.5),
    ("tariff__exportPrice", 0, 10, -0.01, 11),
]


@pytest.mark.parametrize(("path", "low", "high", "too_low", "too_high"), RANGES)
def test_numeric_ranges(
    path: str, low: float, high: float, too_low: float | None, too_high: float | None
) -> None:
    validate_scan_input(body(**{path: low}))
    validate_scan_input(body(**{path: high}))
    wire_path = "$." + path.replace("__0__", "[0].").replace("__", ".")
    for bad in (too_low, too_high):
        if bad is not None:
            error = only_problem(body(**{path: bad}))
            assert error.path == wire_path
            assert error.message.startswith("must be ")
            assert error.message.endswith(f", got {bad}")


def test_range_messages_read_naturally() -> None:
    assert only_problem(body(location__lat=91)).message == "must be between -90 and 90, got 91"
    assert only_problem(body(yearlyKwh=0)).message == (
        "must be greater than 0 and at most 100000, got 0"
    )


def test_a_fixed_battery_capacity_range() -> None:
    validate_scan_input(body(MINIMAL, electricBattery={"capacityKwh": 200}))
    error = only_problem(body(MINIMAL, electricBattery={"capacityKwh": 0}))
    assert error.path == "$.electricBattery.capacityKwh"


# --- arrays --------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["existingPv", "newPv"])
def test_an_empty_pv_array_is_an_error(key: str) -> None:
    assert only_problem(body(**{key: []})) == FieldError(
        f"$.{key}", "must not be empty; leave the property out when there is none"
    )


@pytest.mark.parametrize("key", ["existingPv", "newPv"])
def test_at_most_ten_entries_per_pv_array(key: str) -> None:
    ten = FULL[key] * 10
    scan = validate_scan_input(body(**{key: ten}))
    assert len(scan.existing_pv if key == "existingPv" else scan.new_pv) == 10
    assert only_problem(body(**{key: ten + FULL[key][:1]})) == FieldError(
        f"$.{key}", "must have at most 10 entries, got 11"
    )


def test_ten_existing_and_ten_new_entries_are_allowed_together() -> None:
    scan = validate_scan_input(body(existingPv=FULL["existingPv"] * 10, newPv=FULL["newPv"] * 10))
    assert (len(scan.existing_pv), len(scan.new_pv)) == (10, 10)


def test_errors_inside_arrays_name_the_entry() -> None:
    raw = body(newPv=[FULL["newPv"][0], {**FULL["newPv"][0], "tilt": 120}])
    assert only_problem(raw).path == "$.newPv[1].tilt"


# --- rules that relate fields ----------------------------------------------------------


def test_known_needs_yearly_kwh() -> None:
    assert only_problem(body(yearlyKwh=...)) == FieldError(
        "$.yearlyKwh", "required when inputMethod is 'known'"
    )
    assert only_problem(body(yearlyKwh=None)).path == "$.yearlyKwh"


def test_known_refuses_a_custom_profile() -> None:
    error = only_problem(body(customProfileId="prof_1"))
    assert error.path == "$.customProfileId"
    assert "only allowed when inputMethod is 'studio'" in error.message


def test_studio_needs_a_custom_profile() -> None:
    assert only_problem(body(STUDIO, customProfileId=...)) == FieldError(
        "$.customProfileId", "required when inputMethod is 'studio'"
    )


def test_studio_refuses_yearly_kwh_and_load_profile() -> None:
    errors = problems(body(STUDIO, yearlyKwh=3500, loadProfile="standard"))
    assert [e.path for e in errors] == ["$.yearlyKwh", "$.loadProfile"]
    assert "comes from the custom profile" in errors[0].message


def test_custom_profile_id_must_not_be_empty() -> None:
    assert only_problem(body(STUDIO, customProfileId="")).path == "$.customProfileId"


def test_battery_needs_capacity_or_a_range() -> None:
    error = only_problem(body(electricBattery={"powerKw": 3}))
    assert error.path == "$.electricBattery"
    assert "either capacityKwh" in error.message


def test_battery_capacity_and_range_exclude_each_other() -> None:
    error = only_problem(body(electricBattery={"capacityKwh": 10, "minKwh": 5, "maxKwh": 15}))
    assert error.path == "$.electricBattery.capacityKwh"
    assert "not both" in error.message


@pytest.mark.parametrize(
    ("battery", "path"),
    [({"minKwh": 5}, "$.electricBattery.maxKwh"), ({"maxKwh": 5}, "$.electricBattery.minKwh")],
)
def test_battery_range_needs_both_ends(battery: dict[str, Any], path: str) -> None:
    assert only_problem(body(electricBattery=battery)).path == path


def test_min_kwh_must_not_exceed_max_kwh() -> None:
    assert only_problem(body(electricBattery={"minKwh": 15, "maxKwh": 5})) == FieldError(
        "$.electricBattery.minKwh", "must not exceed maxKwh (5), got 15"
    )
    battery = validate_scan_input(body(electricBattery={"minKwh": 8, "maxKwh": 8}))
    assert battery.electric_battery is not None and battery.electric_battery.min_kwh == 8


def test_every_problem_is_reported_at_once() -> None:
    raw = body(
        yearlyKwh=...,
        goal="money",
        location__lat=100,
        existingPv=[],
        newPv__0__panelWp="big",
        electricBattery={"minKwh": 15, "maxKwh": 5},
        surprise=True,
    )
    paths = [e.path for e in problems(raw)]
    assert sorted(paths) == sorted(
        [
            "$.goal",
            "$.location.lat",
            "$.existingPv",
            "$.newPv[0].panelWp",
            "$.surprise",
            "$.yearlyKwh",
            "$.electricBattery.minKwh",
        ]
    )


def test_the_error_message_names_the_field_and_the_rule() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_scan_input(body(yearlyKwh="abc", goal="x"))
    assert caught.value.message == "$.yearlyKwh: expected a number, got 'abc' (and 1 more problem)"
    assert caught.value.status == 400 and caught.value.code == "VALIDATION_FAILED"
    assert caught.value.details["errors"][0] == {
        "path": "$.yearlyKwh",
        "message": "expected a number, got 'abc'",
    }


# --- the studio check ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        STUDIO,
        body(customProfileId="prof_1"),  # customProfileId with known
        body(inputMethod="studio"),  # studio without a profile
        body(customProfileId=None),  # the key alone is enough
        body(STUDIO, goal="nope", location=..., yearlyKwh="x", extra=1),  # and many errors
    ],
)
def test_studio_requests_are_refused_where_unsupported(raw: dict[str, Any]) -> None:
    with pytest.raises(SandboxStudioUnsupported) as caught:
        check_studio_supported(raw, supported=False)
    assert caught.value.message == STUDIO_UNSUPPORTED_MESSAGE
    assert caught.value.message == (
        "Sandbox does not support studio scans. "
        "Remove customProfileId and set inputMethod to 'known'."
    )
    assert (caught.value.status, caught.value.code) == (400, "SANDBOX_STUDIO_UNSUPPORTED")
    check_studio_supported(raw, supported=True)  # where supported, validation decides


@pytest.mark.parametrize("raw", [FULL, body(goal="nope"), [STUDIO], "studio", None])
def test_other_requests_pass_the_studio_check(raw: object) -> None:
    check_studio_supported(raw, supported=False)


# --- the converter -------------------------------------------------------------------------


def sample_result() -> ScanResult:
    month = MonthlyEnergy(1, 390.0, 95.0, 80.0, 310.0, 15.0)
    return ScanResult(
        recommendation=Recommendation(
            new_pv=NewPvRecommendation(panel_count=10, k_wp=4.3),
            battery=BatteryRecommendation(capacity_kwh=5.0, power_kw=2.5),
        ),
        energy=EnergyFlows(3500, 3900, 1400, 2100, 2500),
        self_sufficiency=0.4,
        self_consumption=0.359,
        financial=Financial(6200, 720, 8.6),
        co2_saved_kg=1250,
        monthly=(month,) * 12,
        metadata={"source": "fixture", "fixtureId": "new-pv-battery/cost-savings"},
    )


def test_a_result_renders_exactly_as_the_contract_says() -> None:
    rendered = unstructure(sample_result())
    assert list(rendered) == [
        "recommendation",
        "energy",
        "selfSufficiency",
        "selfConsumption",
        "financial",
        "co2SavedKg",
        "monthly",
        "metadata",
    ]
    assert rendered["recommendation"] == {
        "newPv": {"panelCount": 10, "kWp": 4.3},
        "battery": {"capacityKwh": 5.0, "powerKw": 2.5},
    }
    assert rendered["energy"] == {
        "consumptionKwh": 3500,
        "pvProductionKwh": 3900,
        "selfConsumedKwh": 1400,
        "gridImportKwh": 2100,
        "gridExportKwh": 2500,
    }
    assert rendered["financial"] == {"investment": 6200, "yearlySavings": 720, "returnPeriod": 8.6}
    assert isinstance(rendered["monthly"], list) and len(rendered["monthly"]) == 12
    assert rendered["monthly"][0] == {
        "month": 1,
        "consumptionKwh": 390.0,
        "pvProductionKwh": 95.0,
        "selfConsumedKwh": 80.0,
        "gridImportKwh": 310.0,
        "gridExportKwh": 15.0,
    }


def test_nulls_are_rendered_not_dropped() -> None:
    result = attrs.evolve(
        sample_result(),
        recommendation=Recommendation(None, None),
        financial=Financial(0, 0, None),
    )
    rendered = unstructure(result)
    assert rendered["recommendation"] == {"newPv": None, "battery": None}
    assert rendered["financial"]["returnPeriod"] is None


@pytest.mark.parametrize("value", [FULL, MINIMAL, STUDIO])
def test_inputs_round_trip(value: dict[str, Any]) -> None:
    scan = validate_scan_input(value)
    assert structure(unstructure(scan), ScanInput) == scan


def test_a_rendered_input_validates_again_when_it_has_pv_entries() -> None:
    scan = validate_scan_input(FULL)
    assert validate_scan_input(unstructure(scan)) == scan


def test_results_round_trip() -> None:
    result = sample_result()
    assert structure(unstructure(result), ScanResult) == result


def test_datetimes_are_iso_utc_with_z() -> None:
    @attrs.frozen
    class Stamp:
        created_at: datetime

    stamp = Stamp(datetime(2026, 6, 1, 10, 30, tzinfo=UTC))
    assert unstructure(stamp) == {"createdAt": "2026-06-01T10:30:00.000Z"}
    assert structure({"createdAt": "2026-06-01T12:30:00+02:00"}, Stamp) == stamp
    with pytest.raises(ValidationFailed) as caught:
        structure({"createdAt": "2026-06-01T10:30:00"}, Stamp)
    assert caught.value.errors[0].path == "$.createdAt"
    assert "no time zone" in caught.value.errors[0].message


def test_string_fields_refuse_numbers_and_maps_check_their_values() -> None:
    @attrs.frozen
    class Labelled:
        name: str
        tags: dict[str, int]

    assert structure({"name": "a", "tags": {"x": 1}}, Labelled) == Labelled("a", {"x": 1})
    with pytest.raises(ValidationFailed) as caught:
        structure({"name": 5, "tags": {"x": "1"}}, Labelled)
    assert caught.value.errors == [
        FieldError("$.name", "expected a string, got 5"),
        FieldError("$.tags['x']", "expected an integer, got '1'"),
    ]
