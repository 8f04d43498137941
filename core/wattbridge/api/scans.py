"""``/v1/scans``, ``/v1/load-profiles`` and ``/v1/usage``."""

from __future__ import annotations

from typing import Any, get_args

from wattbridge.api.params import LIMIT, integer
from wattbridge.api.routing import ApiRoute, Call, Param, Reply
from wattbridge.api.schema_parts import TIME
from wattbridge.models.scans import GOALS, INPUT_METHODS, LOAD_PROFILES, ScanStatus
from wattbridge.services.scans import ScanService, load_profiles

PAGE = Param("page", {"type": "integer", "minimum": 1, "default": 1}, "Page number, from 1.")


def _scans(call: Call) -> ScanService:
    return ScanService(call.environment)


def create_scan(call: Call) -> Reply:
    """Validate the body and start a scan."""
    return Reply(_scans(call).create(call.project_id, call.json()), status=201)


def list_scans(call: Call) -> dict[str, Any]:
    """The project's scans in this environment, newest first."""
    page = integer(call.query, "page", 1, 1, None)
    limit = integer(call.query, "limit", 20, 1, 100)
    return _scans(call).list(call.project_id, page, limit)


def get_scan(call: Call) -> dict[str, Any]:
    """One scan."""
    return _scans(call).get(call.project_id, call.path_params["id"])


def get_scan_status(call: Call) -> dict[str, Any]:
    """A scan's status only (cheap to poll)."""
    return _scans(call).status(call.project_id, call.path_params["id"])


def get_scan_result(call: Call) -> dict[str, Any]:
    """A completed scan's result, with its report link (docs/report.md)."""
    from wattbridge.api.reports import with_report_url  # that module builds on this one

    return with_report_url(call, _scans(call).result(call.project_id, call.path_params["id"]))


def list_load_profiles(call: Call) -> dict[str, Any]:
    """The standard load profiles."""
    return {"items": load_profiles()}


def get_usage(call: Call) -> dict[str, Any]:
    """This month's metered scans and credits."""
    return _scans(call).usage(call.project_id)


ROUTES = [
    ApiRoute(
        "POST",
        "/v1/scans",
        create_scan,
        "Create a scan",
        "scans",
        status=201,
        body="CreateScan",
        response="Scan",
        errors=(409, 422, 429),
        writes_on_loop=True,  # validation and a fixture: nothing waits but the write lock
    ),
    ApiRoute(
        "GET",
        "/v1/scans",
        list_scans,
        "List scans",
        "scans",
        query=(PAGE, LIMIT),
        response="ScanList",
        errors=(400,),
    ),
    ApiRoute(
        "GET", "/v1/scans/{id}", get_scan, "Get a scan", "scans", response="Scan", errors=(404,)
    ),
    ApiRoute(
        "GET",
        "/v1/scans/{id}/status",
        get_scan_status,
        "Get a scan's status",
        "scans",
        response="ScanStatus",
        errors=(404,),
    ),
    ApiRoute(
        "GET",
        "/v1/scans/{id}/result",
        get_scan_result,
        "Get a completed scan's result",
        "scans",
        response="ScanResult",
        errors=(404, 409),
    ),
    ApiRoute(
        "GET",
        "/v1/load-profiles",
        list_load_profiles,
        "List the standard load profiles",
        "scans",
        response="LoadProfileList",
    ),
    ApiRoute("GET", "/v1/usage", get_usage, "This month's scan usage", "scans", response="Usage"),
]


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


def _num(**bounds: float) -> dict[str, Any]:
    return {"type": "number", **bounds}


_NULLABLE_NUMBER: dict[str, Any] = {"type": ["number", "null"]}
_GOAL = {"enum": list(GOALS)}
_INPUT_METHOD = {"enum": list(INPUT_METHODS)}
_STATUS = {"enum": list(get_args(ScanStatus))}
_ANGLES = {"tilt": _num(minimum=0, maximum=90), "azimuth": _num(minimum=0, maximum=360)}
_DISPATCH_FLOWS = {
    name: _num()
    for name in (
        "loadKwh",
        "pvKwh",
        "gridImportKwh",
        "gridExportKwh",
        "chargeKwh",
        "dischargeKwh",
        "storedKwh",
    )
}
_DISPATCH_DAY: dict[str, Any] = {
    "type": "array",
    "minItems": 24,
    "maxItems": 24,
    "items": _obj(
        ["hour", *_DISPATCH_FLOWS],
        hour={"type": "integer", "minimum": 0, "maximum": 23},
        **_DISPATCH_FLOWS,
    ),
}
_FLOWS = {
    name: {"type": "number"}
    for name in (
        "consumptionKwh",
        "pvProductionKwh",
        "selfConsumedKwh",
        "gridImportKwh",
        "gridExportKwh",
    )
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "CreateScan": {
        **_obj(
            ["inputMethod", "goal", "location"],
            inputMethod=_INPUT_METHOD,
            yearlyKwh={"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 100000},
            loadProfile={"enum": [*LOAD_PROFILES, None]},
            customProfileId={"type": ["string", "null"], "minLength": 1, "maxLength": 128},
            goal=_GOAL,
            location=_obj(
                ["lat", "lon"],
                lat=_num(minimum=-90, maximum=90),
                lon=_num(minimum=-180, maximum=180),
            ),
            existingPv={
                "type": "array",
                "minItems": 1,
                "maxItems": 10,
                "items": _obj(
                    ["kWp", "tilt", "azimuth"], kWp=_num(exclusiveMinimum=0, maximum=100), **_ANGLES
                ),
            },
            newPv={
                "type": "array",
                "minItems": 1,
                "maxItems": 10,
                "items": _obj(
                    ["maxPanelCount", "tilt", "azimuth"],
                    maxPanelCount={"type": "integer", "minimum": 1, "maximum": 200},
                    panelWp=_num(minimum=100, maximum=1000),
                    pricePerPanel=_num(minimum=0, maximum=5000),
                    **_ANGLES,
                ),
            },
            electricBattery={
                **_obj(
                    [],
                    capacityKwh=_NULLABLE_NUMBER,
                    minKwh=_NULLABLE_NUMBER,
                    maxKwh=_NULLABLE_NUMBER,
                    powerKw=_NULLABLE_NUMBER,
                    roundtripEfficiency=_num(minimum=50, maximum=100),
                    minimumChargeLevel=_num(minimum=0, maximum=90),
                    pricePerKwh=_num(minimum=0, maximum=10000),
                ),
                "type": ["object", "null"],
                "description": "Either capacityKwh (fixed) or minKwh and maxKwh (to be sized).",
            },
            export=_obj([], allowed={"type": "boolean", "default": False}),
            tariff=_obj(
                [],
                importPrice=_num(minimum=0, maximum=10, default=0.30),
                exportPrice=_num(minimum=0, maximum=10, default=0.08),
            ),
        ),
        "description": "See docs/scans.md for every rule; the server checks them all.",
    },
    "Scan": _obj(
        [
            "id",
            "status",
            "goal",
            "inputMethod",
            "createdAt",
            "updatedAt",
            "completedAt",
            "cost",
            "overage",
            "hasError",
            "errorMessage",
            "selfSufficiency",
            "returnPeriod",
            "co2SavedKg",
        ],
        id={"type": "string", "pattern": "^scan_"},
        status=_STATUS,
        goal=_GOAL,
        inputMethod=_INPUT_METHOD,
        createdAt=TIME,
        updatedAt=TIME,
        completedAt={"oneOf": [TIME, {"type": "null"}]},
        cost={**_NULLABLE_NUMBER, "description": "Credits charged; null in the sandbox."},
        overage={
            "type": "boolean",
            "description": "Live only: the scan ran past the project's monthly tier limit.",
        },
        hasError={"type": "boolean"},
        errorMessage={"type": ["string", "null"]},
        selfSufficiency=_NULLABLE_NUMBER,
        returnPeriod=_NULLABLE_NUMBER,
        co2SavedKg=_NULLABLE_NUMBER,
    ),
    "ScanList": _obj(
        ["items", "total", "page", "limit", "totalPages"],
        items={"type": "array", "items": {"$ref": "#/components/schemas/Scan"}},
        total={"type": "integer", "minimum": 0},
        page={"type": "integer", "minimum": 1},
        limit={"type": "integer", "minimum": 1, "maximum": 100},
        totalPages={"type": "integer", "minimum": 0},
    ),
    "ScanStatus": _obj(
        ["id", "status", "updatedAt"],
        id={"type": "string", "pattern": "^scan_"},
        status=_STATUS,
        updatedAt=TIME,
    ),
    "ScanResult": _obj(
        [
            "scanId",
            "goal",
            "recommendation",
            "energy",
            "selfSufficiency",
            "selfConsumption",
            "financial",
            "co2SavedKg",
            "monthly",
            "metadata",
        ],
        scanId={"type": "string", "pattern": "^scan_"},
        goal=_GOAL,
        recommendation=_obj(
            ["newPv", "battery"],
            newPv={
                "oneOf": [
                    _obj(["panelCount", "kWp"], panelCount={"type": "integer"}, kWp=_num()),
                    {"type": "null"},
                ]
            },
            battery={
                "oneOf": [
                    _obj(["capacityKwh", "powerKw"], capacityKwh=_num(), powerKw=_num()),
                    {"type": "null"},
                ]
            },
        ),
        energy=_obj(list(_FLOWS), **_FLOWS),
        selfSufficiency=_num(minimum=0, maximum=1),
        selfConsumption=_num(minimum=0, maximum=1),
        financial=_obj(
            ["investment", "yearlySavings", "returnPeriod"],
            investment=_num(),
            yearlySavings=_num(),
            returnPeriod=_NULLABLE_NUMBER,
        ),
        co2SavedKg=_num(),
        monthly={
            "type": "array",
            "minItems": 12,
            "maxItems": 12,
            "items": _obj(
                ["month", *_FLOWS], month={"type": "integer", "minimum": 1, "maximum": 12}, **_FLOWS
            ),
        },
        metadata={
            "type": "object",
            "description": "Where the numbers come from: {source: 'fixture', fixtureId} in "
            "the sandbox, {source: 'solver', solver, solveSeconds} in live.",
        },
        typicalDays={
            **_obj(
                ["summer", "winter"],
                summer=_DISPATCH_DAY,
                winter=_DISPATCH_DAY,
            ),
            "description": "Optional: the average hourly dispatch of a summer (June-August) "
            "and a winter (December-February) day, for charts. Absent when the solver "
            "does not compute one.",
        },
    ),
    "LoadProfileList": _obj(
        ["items"],
        items={
            "type": "array",
            "items": _obj(
                ["name", "description"], name={"type": "string"}, description={"type": "string"}
            ),
        },
    ),
    "Usage": _obj(
        [
            "period",
            "metered",
            "creditsUsed",
            "scansThisMonth",
            "tierLimit",
            "overage",
            "overageScans",
            "hardCap",
            "creditsPerScan",
            "devicesConnected",
            "deviceLimit",
        ],
        period=_obj(["start", "end"], start=TIME, end=TIME),
        metered={"type": "boolean", "description": "false: nothing is counted (sandbox)"},
        creditsUsed={"type": "number", "minimum": 0},
        scansThisMonth={"type": "integer", "minimum": 0},
        tierLimit={"type": ["integer", "null"], "description": "null: no monthly limit"},
        overage={"type": "boolean", "description": "Some scans this month ran past the limit."},
        overageScans={"type": "integer", "minimum": 0},
        hardCap={"type": "boolean", "description": "true: over the limit answers 429."},
        creditsPerScan={"type": ["number", "null"], "description": "null in the sandbox"},
        devicesConnected={"type": "integer", "minimum": 0},
        deviceLimit={
            "type": ["integer", "null"],
            "description": "Connected devices the plan allows; null: no limit (and in the "
            "sandbox). Linking past it answers 403 DEVICE_LIMIT_REACHED.",
        },
    ),
}
