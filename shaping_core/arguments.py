"""argparse types shared by the command line (shaping_core/__main__.py) and the experiment
scripts: each turns bad text into a one-line message, and argparse exits with status 2. And the
flags of a settings dataclass, derived from its fields (`add_settings_options`)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from collections.abc import Sequence


def whole_number(minimum: int):
    """A whole number of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


positive, nonnegative = whole_number(1), whole_number(0)


def json_object(text: str) -> dict:
    """A JSON object (parameters)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"invalid JSON ({error.msg}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def positive_list(text: str) -> tuple[int, ...]:
    """Distinct positive whole numbers separated by commas (e.g. hidden sizes `4,8,16`)."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected whole numbers separated by commas, got {text!r}") from None
    if not values or min(values) < 1 or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"expected distinct positive whole numbers, got {text!r}")
    return values


def add_optimum_options(parser: argparse.ArgumentParser) -> None:
    """--optimum-participants and --grid: how each zoo family's best possible adversary is solved
    (optimum.cached_family_optimum), for the experiments that report fractions of the gain."""
    parser.add_argument("--optimum-participants", type=positive, default=16,
                        help="simulated participants whose optimum is solved per family (default 16)")
    parser.add_argument("--grid", type=positive, default=21, help="grid points per Q value of the optimum")


def field_docs(settings_class: type) -> dict[str, str]:
    """The docstring of each field of a settings dataclass: the string written under the field,
    as in CleanRL's settings (Python keeps no such docstrings at run time, so they are read from
    the class's source)."""
    import ast
    import inspect
    import textwrap

    body = ast.parse(textwrap.dedent(inspect.getsource(settings_class))).body[0].body
    docs = {}
    for statement, following in zip(body, body[1:]):
        if (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            docs[statement.target.id] = " ".join(following.value.value.split())
    return docs


def add_settings_options(parser: argparse.ArgumentParser, settings_class: type, names: Sequence[str],
                         applies_to: str = "") -> None:
    """A flag for each field in `names` of a settings dataclass: `--policy-lr` for `policy_lr`,
    `--anneal-lr` / `--no-anneal-lr` for a boolean; its help is the field's docstring and default.
    Every flag defaults to None (not given), so that the settings keep their own defaults and
    check their own values. `applies_to` is added to each help, e.g. "--method ppo"."""
    fields = {field.name: field for field in dataclasses.fields(settings_class)}
    docs = field_docs(settings_class)
    hints = typing.get_type_hints(settings_class)
    for name in names:
        kind = hints[name]
        if kind is bool:
            options = {"action": argparse.BooleanOptionalAction}
        else:
            # `float | None`-style fields take their one other type.
            kind = next((t for t in typing.get_args(kind) if t is not type(None)), kind)
            options = {"type": _number(kind), "metavar": kind.__name__.upper()}
        where = f"{applies_to}; " if applies_to else ""
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None,
                            help=f"{docs.get(name, name)} ({where}default {fields[name].default})", **options)


def _number(kind: type):
    def parse(text: str):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse
