"""Parameters given as plain mappings (a study's JSON, a CLI flag), checked into dataclasses.

Games and policies declare their parameters as a frozen dataclass subclassing `Params`;
`from_mapping` rejects unknown keys and wrong types with a message a researcher can act on, and
the dataclass's own `__post_init__` checks the rules between fields.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class ParamsError(ValueError):
    """Parameters that cannot be used; the message says which and why."""


def check_at_least_one(settings: Any, names: tuple[str, ...]) -> None:
    """A ValueError naming the first of the settings' counts `names` that is below 1."""
    for name in names:
        if getattr(settings, name) < 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(settings, name)}")


def check_not_negative(settings: Any, names: tuple[str, ...], error: type[ValueError] = ValueError) -> None:
    """An `error` naming the first of the settings' `names` that is below 0 (None, "not used",
    passes)."""
    for name in names:
        value = getattr(settings, name)
        if value is not None and value < 0:
            raise error(f"{name} must be at least 0, got {value}")


@dataclass(frozen=True)
class Params:
    """Base for a game's parameters: built from a plain mapping (a study's JSON) with checks."""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> typing.Self:
        data = dict(data or {})
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ParamsError(
                f"unknown parameter(s) {', '.join(unknown)}; expected some of {', '.join(fields)}"
            )
        hints = typing.get_type_hints(cls)
        values = {name: _coerce(name, value, hints[name]) for name, value in data.items()}
        return cls(**values)  # __post_init__ checks the rules between fields

    def to_mapping(self) -> dict[str, Any]:
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in dataclasses.asdict(self).items()
        }


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Check one JSON value against a field's type hint, converting ints to floats where meant."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional, hint = True, args[0]
    if value is None:
        if optional:
            return None
        raise ParamsError(f"{name} must not be empty")
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, (list, tuple)) or not value:
            raise ParamsError(f"{name} must be a non-empty list, got {value!r}")
        item = typing.get_args(hint)[0]
        return tuple(_coerce(f"{name}[{i}]", v, item) for i, v in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{name} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{name} must be a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{name} must be a number, got {value!r}")
        return float(value)
    raise TypeError(f"unsupported parameter type {hint!r} for {name}")  # a programming error


