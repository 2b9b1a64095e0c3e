"""The platform's trial table and participant table (docs/data.md): their columns, their types, and
how they are written.

Written once, here, and used by everything that makes or reads such a table: the study export
(webapp/research/export.py), simulated data sets (shaping_core/learners/datasets.py) and the
platform reader (shaping_core/data/readers.py). So a simulated file and an exported one have the
same columns in the same order, the same types, and the same CSV and Parquet encodings.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from ..games import Game

TIMESTAMP = "datetime64[us, UTC]"  # what the database's timestamps become
STRING = "object"

# Column -> pandas type, in the order of the file. Int64 (nullable) where a value may be missing.
TRIAL_COLUMNS: dict[str, str] = {
    "study": STRING, "condition": STRING, "adversary": STRING, "adversary_params": STRING,
    "participant": STRING, "game": STRING, "trial": "int64",
    "participant_action": STRING, "participant_action_index": "int64",
    "adversary_action": STRING, "adversary_action_index": "int64",
    "participant_reward": "float64", "adversary_reward": "float64", "reaction_time_ms": "float64",
    "presented_at": TIMESTAMP, "responded_at": TIMESTAMP, "adversary_probs": STRING,
    "episode_length": "int64", "screen_order": STRING, "target_action_index": "Int64",
    "participant_status": STRING,
}
TRIAL_TEST_COLUMN = "participant_is_test"  # only in exports that include researchers' test runs

PARTICIPANT_COLUMNS: dict[str, str] = {
    "study": STRING, "participant": STRING, "condition": STRING, "adversary": STRING, "status": STRING,
    "joined_at": TIMESTAMP, "consented_at": TIMESTAMP, "started_at": TIMESTAMP, "completed_at": TIMESTAMP,
    "ended_at": TIMESTAMP, "last_seen_at": TIMESTAMP, "trials_completed": "int64", "points": "float64",
    "bonus": STRING, "show_up_fee": STRING, "total_pay": STRING, "currency": STRING,
    "comprehension_attempts": "int64", "episode_length": "int64", "screen_order": STRING,
}
PARTICIPANT_TEST_COLUMN = "is_test"  # only in exports that include researchers' test runs
EXTERNAL_ID_COLUMNS = ["external_id", "external_study_id", "external_session_id"]  # only when asked for

# The participant context columns of the canonical table read from data files (data/readers.py):
# CONTEXT_PREFIX + each name of game.spec.participant_context.
CONTEXT_PREFIX = "context_"

FORMATS = ("csv", "parquet")
SUFFIXES = {".csv": "csv", ".parquet": "parquet"}
CSV_TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def context_columns(game: Game) -> list[str]:
    """The canonical table's participant context columns for `game`, one per name of
    game.spec.participant_context (empty for games without a context)."""
    return [CONTEXT_PREFIX + name for name in game.spec.participant_context]


def typed(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """`frame` with the documented type of each of `columns` it has (timestamps as UTC)."""
    out = frame.copy()
    for column, dtype in columns.items():
        if column not in out.columns:
            continue
        if dtype == TIMESTAMP:
            out[column] = pd.to_datetime(out[column], utc=True).astype(TIMESTAMP)
        elif dtype != STRING:
            out[column] = out[column].astype(dtype)
    return out


def table_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """The table as a CSV or Parquet file. In Parquet a column that is empty throughout (a study's
    adversary_probs when no adversary reports them) keeps the string type instead of Parquet's null
    type, so every file reads with the same types."""
    if fmt == "csv":
        return frame.to_csv(index=False, date_format=CSV_TIMESTAMP).encode()
    if fmt == "parquet":
        import pyarrow as pa

        schema = pa.Schema.from_pandas(frame, preserve_index=False)
        for i, field in enumerate(schema):
            if pa.types.is_null(field.type):
                schema = schema.set(i, pa.field(field.name, pa.string()))
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False, engine="pyarrow", schema=schema)
        return buffer.getvalue()
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def write_trials(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a trial table as CSV or Parquet, chosen by the path's suffix (.csv, .parquet)."""
    path = Path(path)
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"unknown file type {path.suffix or '(none)'!r}; expected .csv or .parquet")
    path.write_bytes(table_bytes(frame, fmt))
