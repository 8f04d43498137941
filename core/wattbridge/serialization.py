"""The one converter of wattbridge: attrs models ⇄ JSON-ready data.

Every model is a plain ``attrs`` class with snake_case attributes; this module
owns how they look on the wire:

- keys are camelCase (``yearly_kwh`` ⇄ ``yearlyKwh``, ``k_wp`` ⇄ ``kWp``); a field
  can name its key explicitly with ``metadata={JSON_NAME: "..."}``;
- input is strict: unknown keys are errors, ``true`` is not a number, ``3`` is
  not a string, ``12.5`` is not an integer, ``"3"`` is not a number, arrays must
  be JSON arrays, and a field may carry a :class:`~wattbridge.validation.constraints.Constraint`
  (``metadata={CONSTRAINT: ...}``) that is checked while structuring;
- every problem is collected (not only the first) and reported as a
  :class:`~wattbridge.errors.FieldError` located by a ``$.path``;
- datetimes are ISO 8601 UTC with ``Z`` on the way out and must carry a zone on
  the way in.

Use :func:`structure` on input and :func:`unstructure` on output; nothing else
in wattbridge builds or reads wire dictionaries by hand.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar, get_args, get_origin

import attrs
import cattrs
import orjson
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from wattbridge.clock import isoformat, parse_instant
from wattbridge.errors import FieldError, ValidationFailed
from wattbridge.validation.constraints import CONSTRAINT, Constraint, InvalidValue, describe

__all__ = [
    "JSON_NAME",
    "OMIT_IF_DEFAULT",
    "InvalidValue",
    "converter",
    "dumps",
    "field_errors",
    "json_name",
    "structure",
    "unstructure",
]

T = TypeVar("T")

JSON_NAME = "wattbridge.json_name"
"""Field metadata key naming a field's JSON key when camelCase of its name is not it."""

OMIT_IF_DEFAULT = "wattbridge.omit_if_default"
"""Field metadata key: leave the key out of the output while the field has its default
(for optional additions to a published shape, so that documents without them keep it)."""

_Hook = Callable[[Any, Any], Any]


def json_name(field: attrs.Attribute[Any]) -> str:
    """Return the JSON key of an attrs field: its explicit name, else camelCase."""
    explicit = field.metadata.get(JSON_NAME)
    if isinstance(explicit, str):
        return explicit
    head, *rest = field.name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# --- primitives: strict, so that a client's type mistake is reported, not coerced --


def _structure_str(value: object, _: object) -> str:
    if not isinstance(value, str):
        raise InvalidValue(f"expected a string, got {describe(value)}")
    return value


def _structure_bool(value: object, _: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(f"expected true or false, got {describe(value)}")
    return value


def _structure_float(value: object, _: object) -> float:
    # bool is a subclass of int in Python but never a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(f"expected a number, got {describe(value)}")
    if not math.isfinite(value):
        raise InvalidValue(f"expected a finite number, got {describe(value)}")
    return float(value)


def _structure_int(value: object, _: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(f"expected an integer, got {describe(value)}")
    # 12.0 is how some JSON encoders write 12; 12.5 is a client bug worth reporting.
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidValue(f"expected an integer, got {describe(value)}")
        return int(value)
    return value


def _structure_datetime(value: object, _: object) -> datetime:
    if not isinstance(value, str):
        raise InvalidValue(f"expected an ISO 8601 time string, got {describe(value)}")
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None


def _structure_any(value: object, _: object) -> object:
    return value


# --- containers and literals -------------------------------------------------------


def _is_literal(tp: Any) -> bool:
    return get_origin(tp) is Literal


def _literal_hook(tp: Any) -> _Hook:
    allowed = get_args(tp)
    choices = ", ".join(repr(choice) for choice in allowed)

    def structure_literal(value: object, _: object) -> object:
        # ``True == 1`` in Python; compare types too so ``true`` never matches 1.
        for choice in allowed:
            if type(value) is type(choice) and value == choice:
                return choice
        raise InvalidValue(f"must be one of {choices}")

    return structure_literal


def _is_array(tp: Any) -> bool:
    origin = get_origin(tp)
    if origin is tuple:
        args = get_args(tp)
        return len(args) == 2 and args[1] is Ellipsis
    return origin in (list, Sequence, typing.Sequence)


def _array_hook(tp: Any) -> _Hook:
    item_type = get_args(tp)[0]
    as_list = get_origin(tp) is list

    def structure_array(value: object, _: object) -> object:
        # A string is iterable in Python but never an array in JSON.
        if not isinstance(value, list | tuple):
            raise InvalidValue(f"expected an array, got {describe(value)}")
        hook = converter.get_structure_hook(item_type)
        items: list[Any] = []
        errors: list[Exception] = []
        for index, item in enumerate(value):
            try:
                items.append(hook(item, item_type))
            except Exception as exc:
                exc.add_note(IterableValidationNote(f"@ index {index}", index, item_type))
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
        return items if as_list else tuple(items)

    return structure_array


def _is_object_map(tp: Any) -> bool:
    origin = get_origin(tp)
    return origin in (dict, Mapping, typing.Mapping) and get_args(tp)[:1] == (str,)


def _object_map_hook(tp: Any) -> _Hook:
    value_type = get_args(tp)[1]

    def structure_object_map(value: object, _: object) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise InvalidValue(f"expected an object, got {describe(value)}")
        hook = converter.get_structure_hook(value_type)
        result: dict[str, Any] = {}
        errors: list[Exception] = []
        for key, item in value.items():
            try:
                if not isinstance(key, str):
                    raise InvalidValue(f"expected a string key, got {describe(key)}")
                result[key] = hook(item, value_type)
            except Exception as exc:
                exc.add_note(IterableValidationNote(f"@ key {key!r}", str(key), value_type))
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
        return result

    return structure_object_map


# --- attrs classes: camelCase keys, unknown keys, constraints ------------------------


def _constrained(hook: _Hook, constraint: Constraint) -> _Hook:
    def structure_constrained(value: object, tp: object) -> object:
        result = hook(value, tp)
        if result is not None:
            constraint.check(result)
        return result

    return structure_constrained


def _attrs_structure_hook(cl: type[Any]) -> _Hook:
    # Models use postponed annotations; constraint hooks need the real types.
    attrs.resolve_types(cl)
    fields = attrs.fields(cl)
    keys = {field.name: json_name(field) for field in fields}
    overrides: dict[str, Any] = {}
    for field in fields:
        constraint = field.metadata.get(CONSTRAINT)
        hook = None
        if isinstance(constraint, Constraint):
            hook = _constrained(converter.get_structure_hook(field.type), constraint)
        overrides[field.name] = override(rename=keys[field.name], struct_hook=hook)
    generated = make_dict_structure_fn(cl, converter, _cattrs_forbid_extra_keys=False, **overrides)
    allowed = ", ".join(keys.values())

    def structure_attrs(value: object, _: object) -> Any:
        if not isinstance(value, Mapping):
            raise InvalidValue(f"expected an object, got {describe(value)}")
        errors: list[Exception] = []
        result: Any = None
        try:
            result = generated(value, cl)
        except ClassValidationError as exc:
            errors.extend(_with_json_names(exc.exceptions, keys))
        for key in value:
            if key not in keys.values():
                unknown = InvalidValue(f"unknown property; allowed: {allowed}")
                unknown.add_note(AttributeValidationNote(f"@ key {key!r}", str(key), object))
                errors.append(unknown)
        if errors:
            raise ClassValidationError(f"While structuring {cl.__name__}", errors, cl)
        return result

    return structure_attrs


def _with_json_names(exceptions: Sequence[Exception], keys: Mapping[str, str]) -> list[Exception]:
    """Point cattrs' attribute notes at JSON keys, so paths read ``$.yearlyKwh``."""
    renamed: list[Exception] = []
    for exc in exceptions:
        notes = getattr(exc, "__notes__", [])
        exc.__notes__ = [
            AttributeValidationNote(str(note), keys.get(note.name, note.name), note.type)
            if isinstance(note, AttributeValidationNote)
            else note
            for note in notes
        ]
        renamed.append(exc)
    return renamed


def _attrs_unstructure_hook(cl: type[Any]) -> Callable[[Any], dict[str, Any]]:
    overrides: dict[str, Any] = {
        field.name: override(
            rename=json_name(field), omit_if_default=bool(field.metadata.get(OMIT_IF_DEFAULT))
        )
        for field in attrs.fields(cl)
    }
    return make_dict_unstructure_fn(cl, converter, **overrides)


def _build_converter() -> cattrs.Converter:
    conv = cattrs.Converter(
        detailed_validation=True,
        unstruct_collection_overrides={
            tuple: list,
            Sequence: list,
            typing.Sequence: list,
            Mapping: dict,
            typing.Mapping: dict,
        },
    )
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook(Any, _structure_any)
    conv.register_structure_hook_factory(_is_literal, _literal_hook)
    conv.register_structure_hook_factory(_is_array, _array_hook)
    conv.register_structure_hook_factory(_is_object_map, _object_map_hook)
    conv.register_structure_hook_factory(attrs.has, _attrs_structure_hook)
    conv.register_unstructure_hook(datetime, isoformat)
    conv.register_unstructure_hook_factory(attrs.has, _attrs_unstructure_hook)
    return conv


converter: cattrs.Converter = _build_converter()
"""The project's converter; prefer :func:`structure` and :func:`unstructure`."""


def field_errors(exc: BaseException) -> list[FieldError]:
    """Turn a structuring failure into one :class:`FieldError` per problem, in order."""
    messages: list[str] = []

    def remember(problem: BaseException, _: type | None) -> str:
        # transform_error renders "<description> @ <path>"; the description is an
        # index into ``messages`` so a message containing " @ " cannot confuse the split.
        messages.append(_message_of(problem))
        return str(len(messages) - 1)

    errors = []
    for line in cattrs.transform_error(exc, path="$", format_exception=remember):
        index, _, path = line.partition(" @ ")
        errors.append(FieldError(path, messages[int(index)]))
    return errors


def _message_of(problem: BaseException) -> str:
    if isinstance(problem, InvalidValue):
        return str(problem)
    if isinstance(problem, KeyError):
        return "required property is missing"
    return "invalid value"


def structure(data: object, cls: type[T]) -> T:
    """Build a ``cls`` from JSON-decoded ``data``, strictly.

    :raises ValidationFailed: listing every problem, each with its ``$.path``.
    """
    try:
        return converter.structure(data, cls)
    except (ClassValidationError, IterableValidationError, InvalidValue) as exc:
        raise ValidationFailed(field_errors(exc)) from None


def unstructure(obj: object) -> Any:
    """Render a model (or a collection of models) as camelCase JSON-ready data."""
    return converter.unstructure(obj)


Encoded = orjson.Fragment
"""JSON that is encoded already: :func:`dumps` embeds its bytes as they are. For
answers kept ready in memory (a device read within its second), so that they
are not encoded again, and so that a cache of them holds bytes, which the
garbage collector never has to visit, rather than thousands of dicts."""


def encoded(value: Any) -> Encoded:
    """``value`` encoded once, as :data:`Encoded` JSON to keep in memory.

    The bytes are copied once: orjson writes into a generous buffer and then
    shrinks it, and the allocator keeps the difference, so each result kept
    for long held about 8 kB of memory for a 0.8 kB answer (measured in the
    process's resident size).
    """
    return Encoded(bytes(memoryview(dumps(value))))


_ORJSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON bytes of JSON-ready data (what we send, sign and store).

    orjson, because encoding a response body with the standard library costs
    several times more than everything else a fast read does with it. It is
    kept as strict as ``json.dumps``: a datetime or a dataclass that was not
    unstructured first is a :class:`TypeError`, not silently encoded in a form
    of orjson's choosing. NaN and infinities (which are not JSON) become ``null``.
    """
    return orjson.dumps(value, option=_ORJSON_OPTIONS)
