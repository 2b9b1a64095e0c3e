"""What every synthetic learner shares: parameters that may vary across a population.

A learner's numeric parameters are `Range` fields. Each takes either one number (every episode
uses it: the common case) or a `[low, high]` pair, in which case `reset` draws a value uniformly
from [low, high] for each episode of the batch with the simulation's generator, so one batch is a
heterogeneous population of synthetic participants:

    make_learner("q_learning", game, {"alpha": [0.1, 0.5], "beta": 4})

Both forms are stored as a `(low, high)` tuple (a fixed value is `(v, v)`), and `to_mapping`
writes a fixed value back as a plain number. Draws are made at `reset`, in the order the fields
are declared, and only for fields given as a true range, so adding a population to one parameter
leaves the random stream of a fixed-parameter run unchanged, and the same seed gives the same
population.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..params import Params
from ..participants import ParticipantParamsError

Range = tuple[float, float]
"""A parameter's (low, high); low == high for a fixed value."""


def _is_range(hint: Any) -> bool:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return hint == Range


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def as_range(name: str, value: Any) -> Range:
    """A number or a [low, high] pair of numbers, as a (low, high) tuple of floats."""
    if _is_number(value):
        low = high = float(value)
    elif (isinstance(value, (list, tuple)) and len(value) == 2
          and all(_is_number(v) for v in value)):
        low, high = float(value[0]), float(value[1])
    else:
        raise ParticipantParamsError(
            f"{name} must be a number or a [low, high] pair of numbers, got {value!r}")
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ParticipantParamsError(f"{name} must be finite, got {shown((low, high))}")
    if low > high:
        raise ParticipantParamsError(f"{name}: low ({low:g}) must not exceed high ({high:g})")
    return low, high


def shown(value: Range) -> str:
    """A range as a researcher wrote it: `0.3` or `[0.1, 0.5]`."""
    low, high = value
    return f"{low:g}" if low == high else f"[{low:g}, {high:g}]"


@dataclass(frozen=True)
class LearnerParams(Params):
    """Base of a learner's parameters. Fields typed `Range` (or `Range | None`) accept a number
    or a [low, high] pair, from JSON or in the constructor; subclasses check their bounds in
    `__post_init__` with `check_bounds` after calling `super().__post_init__()`."""

    @classmethod
    def range_fields(cls) -> list[str]:
        hints = typing.get_type_hints(cls)
        return [f.name for f in dataclasses.fields(cls) if _is_range(hints[f.name])]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> typing.Self:
        data = dict(data or {})
        # Turn numbers into pairs first, so the generic checks of params.py see a tuple[float,
        # float] and the message for a wrong value names both accepted forms.
        for name in cls.range_fields():
            if data.get(name) is not None:
                data[name] = as_range(name, data[name])
        return super().from_mapping(data)

    def __post_init__(self):
        for name in self.range_fields():
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_range(name, value))

    def check_bounds(self, name: str, minimum: float | None = None,
                     maximum: float | None = None) -> None:
        """Both ends of the range `name` must lie in [minimum, maximum] (None: unbounded)."""
        value = getattr(self, name)
        if value is None:
            return
        low, high = value
        if (minimum is not None and low < minimum) or (maximum is not None and high > maximum):
            lower = "-inf" if minimum is None else f"{minimum:g}"
            upper = "inf" if maximum is None else f"{maximum:g}"
            raise ParticipantParamsError(f"{name} must lie in [{lower}, {upper}], got {shown(value)}")

    def to_mapping(self) -> dict[str, Any]:
        mapping = super().to_mapping()
        for name in self.range_fields():
            value = getattr(self, name)
            if value is not None:
                mapping[name] = value[0] if value[0] == value[1] else list(value)
        return mapping


def draw(value: Range, batch_size: int, generator: torch.Generator | None,
         device: torch.device | str) -> Tensor:
    """[B] float: the fixed value for every episode, or one uniform draw per episode."""
    low, high = value
    if low == high:
        return torch.full((batch_size,), low, device=device)
    where = generator.device if generator is not None else device
    u = torch.rand(batch_size, generator=generator, device=where).to(device)
    return low + (high - low) * u


def draw_all(params: LearnerParams, batch_size: int, generator: torch.Generator | None,
             device: torch.device | str, defaults: Mapping[str, float] | None = None) -> dict[str, Tensor]:
    """Per-episode values [B] of every `Range` field, in declaration order. A field left None
    takes its value from `defaults` (a learner's game-dependent default)."""
    values = {}
    for name in params.range_fields():
        value = getattr(params, name)
        if value is None:
            value = (defaults[name], defaults[name])
        values[name] = draw(value, batch_size, generator, device)
    return values


def sample_values(params: LearnerParams, n: int,
                  generator: torch.Generator | None) -> list[dict[str, float]]:
    """n participants' values of every set `Range` field, one dict each, drawn as `reset` draws
    them (`draw`, in declaration order, on the CPU): a generator in the same state gives the same
    people as a `reset` of n episodes. A field left None (a game-dependent default) is left out."""
    drawn = {name: draw(value, n, generator, "cpu") for name in params.range_fields()
             if (value := getattr(params, name)) is not None}
    return [{name: float(column[i]) for name, column in drawn.items()} for i in range(n)]


def one_hot_or_zero(action: Tensor, n: int) -> Tensor:
    """[B, n] one-hot of `action`, all zeros where action is -1 (no previous action)."""
    hot = torch.nn.functional.one_hot(action.clamp_min(0), n).float()
    return hot * (action >= 0).unsqueeze(-1)
