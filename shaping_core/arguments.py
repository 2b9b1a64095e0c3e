"""argparse types shared by the command line (shaping_core/__main__.py) and the experiment
scripts: each turns bad text into a one-line message, and argparse exits with status 2."""

from __future__ import annotations

import argparse
import json


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
