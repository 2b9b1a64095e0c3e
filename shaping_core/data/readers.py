"""Readers that turn trial files into the one long trial table of docs/data.md.

    frame = read_trials("trials.csv", "platform", game=make_game("bandit"))
    sequences = load_sequences("bandit.csv", "bandit-choice-engineering", game=make_game("bandit"))

Every reader returns the same canonical table, one row per trial, sorted by participant and trial:

    participant               str      the participant's id
    trial                     int64    0, 1, 2, ... within each participant, without gaps
    participant_action        str      the action's name in the game
    participant_action_index  int64    index into game.spec.participant_actions
    adversary_action          str      the adversary's action name, NaN where unknown
    adversary_action_index    int64    index into game.spec.adversary_actions, -1 where unknown
    participant_reward        float64
    adversary_reward          float64  NaN where unknown
    reaction_time_ms          float64  NaN where unknown (or no response)
    game                      str      game.spec.name

followed by columns particular to the format. The formats (DATA_FORMATS):

`platform`
    The platform's own export (webapp/research/export.py, docs/data.md), CSV (.csv, .csv.gz) or
    Parquet (.parquet). The canonical columns are read as they are; every other column of the
    export is kept, with `presented_at`/`responded_at` parsed as UTC timestamps so that CSV and
    Parquet give the same frame. The `game` column must name the game passed in. An
    `adversary_action_index` of -1 is accepted (a public dataset converted into this schema may
    not know the adversary's move). `conditions=[...]` keeps only those study conditions; no
    other row is ever dropped, so participants who stopped early keep the trials they have.

`bandit-choice-engineering`
    The public human data of Dezfouli, Nock & Dayan (2020), experiment 1: columns
    `action,reward,id` (+ `block,schedule_type`, kept when present), one sequence per `id`, its
    rows consecutive and in trial order. participant = id; trial = the row's position within its
    id; participant_action_index = action (0/1 = option0/option1); participant_reward = reward
    (0/1). The file records only the chosen option's reward, so the adversary's assignment to
    both options is unknown: adversary_action_index = -1, adversary_reward = NaN. Needs the
    `bandit` game.

`gonogo-self-regulation`
    The go/no-go task of the Self-Regulation Ontology: columns
    `worker_id,trial_num,condition,key_press,rt,correct` (key_press 32 = a press, -1 = none; rt
    in ms, -1 without a press). participant = worker_id; trial = trial_num (a whole number, from 0
    without gaps); participant action = `respond` on a press, else `withhold`; adversary action
    = the trial type `go`/`nogo`; participant_reward = 1 if correct else 0, and `correct` must
    agree with the actions (a press on go or no press on no-go); adversary_reward = 1 -
    participant_reward (the adversary earns 1 per error); reaction_time_ms = rt on a press, else
    NaN. Needs the `gonogo` game.

`ipd-human-games`
    Iterated prisoner's dilemmas played by people in seven studies (AM, BR, DF, DO, FO, FR, KS):
    columns `sequence,study,treatment,period,action,partner_action,payoff,partner_payoff,R,S,T,P,
    continuation_probability,error_rate,stochastic_payoffs,horizon`, one game seen from one
    player per `sequence`, its rows consecutive. The file has no person ids and one person plays
    many sequences, so participant = sequence; split data by study or by sequence, knowing that
    sequences of the same person may then fall on both sides. trial = period - 1 (periods 1, 2,
    ... without gaps); the actions are `C`/`D`; partner_action, payoff and partner_payoff may be
    empty only in a sequence's last period, where adversary_action_index = -1 and the rewards
    are NaN. R, S, T, P (T > R > P > S) are the sequence's payoff matrix, normalised per study;
    the rewards are the matrix's payoffs for the two actions mapped onto the game's scale,
    sucker + (payoff - S) / (T - S) * (temptation - sucker), so that a surrogate fitted across
    studies reads rewards in the game's units. They are not read from the `payoff` columns,
    which are on each study's own scale (costs in KS, lottery draws in the stochastic
    treatments, AM's partner_payoff a running total); those stay in the table as they are. The payoffs, horizon (`finite`,
    `indefinite` or `continuous`), error_rate (in [0, 0.5)) and the other per-game columns must
    be constant within a sequence; continuation_probability d (in [0, 1]) is the chance of
    another round, below 1 unless the horizon is finite. The participant context (the columns of
    schema.context_columns: CONTEXT_PREFIX + each name of game.spec.participant_context) is
    games.ipd.situation_features of the row's R, S, T, P, error_rate and horizon: the rounds
    ahead are the sequence's periods after this one when the horizon is finite, else the
    expected d / (1 - d). The file's other columns from study to horizon are kept (with
    `period`). Needs the `ipd` game.

Every problem raises DataFormatError naming the file, and where it applies the line a person sees
in a CSV file (header = line 1; for Parquet the 1-based row) and the column, with what was
expected and what was found.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..games import Game
from ..games.ipd import situation_features
from .schema import context_columns
from .sequences import TrialSequences, sequences_from_frame

DATA_FORMATS = ("platform", "bandit-choice-engineering", "gonogo-self-regulation",
                "ipd-human-games")

CANONICAL_COLUMNS = (
    "participant", "trial", "participant_action", "participant_action_index", "adversary_action",
    "adversary_action_index", "participant_reward", "adversary_reward", "reaction_time_ms", "game",
)
PLATFORM_COLUMNS = (
    "participant", "game", "trial", "participant_action_index", "adversary_action_index",
    "participant_reward", "adversary_reward", "reaction_time_ms",
)
BANDIT_COLUMNS = ("action", "reward", "id")
BANDIT_EXTRA_COLUMNS = ("block", "schedule_type")
GONOGO_COLUMNS = ("worker_id", "trial_num", "condition", "key_press", "rt", "correct")
IPD_HUMAN_COLUMNS = (
    "sequence", "study", "treatment", "period", "action", "partner_action", "payoff",
    "partner_payoff", "R", "S", "T", "P", "continuation_probability", "error_rate",
    "stochastic_payoffs", "horizon",
)
IPD_HORIZONS = ("finite", "indefinite", "continuous")
# Columns that describe the game a sequence is, not one of its periods.
IPD_SEQUENCE_COLUMNS = ("study", "treatment", "R", "S", "T", "P", "error_rate",
                        "stochastic_payoffs", "horizon")

CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet",)
NO_KEY_PRESS = -1


class DataFormatError(ValueError):
    """A trial file that cannot be read as the format it was said to be; the message says where."""


# --- where in the file ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """The file being read, to name places in it. Frames keep their original 0-based row index
    through every step, so an index label always leads back to the row a person can find."""

    path: Path
    is_parquet: bool

    def row_name(self, row: int) -> str:
        # CSV: the header is line 1, so row 0 is line 2. Parquet has no lines: 1-based row.
        return f"row {row + 1}" if self.is_parquet else f"line {row + 2}"

    def place(self, row: int | None = None, column: str | None = None) -> str:
        parts = [str(self.path)]
        if row is not None:
            parts.append(self.row_name(row))
        if column is not None:
            parts.append(f"column {column!r}")
        return ", ".join(parts)

    def error(self, message: str, row: int | None = None, column: str | None = None) -> DataFormatError:
        return DataFormatError(f"{self.place(row, column)}: {message}")


def _shown(value: Any) -> str:
    """A found value as the message shows it: text quoted, numbers plain, missing named."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "an empty value"
    if isinstance(value, float) and value.is_integer():
        # pandas reads a whole-number column as floats when a cell or blank line is empty.
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


def _report_first(bad: pd.Series, raw: pd.DataFrame, column: str, source: _Source,
                  expected: str) -> None:
    """Raise for the first row where `bad` holds, showing the value as read from the file."""
    if bad.any():
        row = bad.idxmax()  # the label of the first True
        raise source.error(f"expected {expected}, got {_shown(raw.at[row, column])}", row, column)


# --- reading the file -------------------------------------------------------------------------


def _read_table(source: _Source, text_columns: Sequence[str]) -> pd.DataFrame:
    """The file as pandas reads it, with blank lines dropped but counted (line numbers stay
    true). `text_columns` are read as text so that ids such as '007' keep their form."""
    try:
        if source.is_parquet:
            frame = pd.read_parquet(source.path)
        else:
            frame = pd.read_csv(source.path, dtype={column: str for column in text_columns},
                                skip_blank_lines=False, low_memory=False)
    except pd.errors.EmptyDataError:
        raise source.error("the file is empty") from None
    except (ValueError, OSError, EOFError, zlib.error) as error:
        kind = "Parquet" if source.is_parquet else "CSV"
        raise source.error(f"could not read the file as {kind}: {error}") from error
    frame = frame.reset_index(drop=True)
    return frame[frame.notna().any(axis=1)]


def _source_for(path: Path) -> _Source:
    if not path.exists():
        raise DataFormatError(f"{path}: file not found")
    if not path.is_file():
        raise DataFormatError(f"{path}: not a file")
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return _Source(path, is_parquet=True)
    if name.endswith(CSV_SUFFIXES):
        return _Source(path, is_parquet=False)
    suffixes = ", ".join(CSV_SUFFIXES + PARQUET_SUFFIXES)
    raise DataFormatError(f"{path}: unknown file type; expected a name ending in {suffixes}")


def _require_columns(raw: pd.DataFrame, required: Sequence[str], source: _Source) -> None:
    missing = [column for column in required if column not in raw.columns]
    if missing:
        named = ", ".join(repr(column) for column in missing)
        raise source.error(f"missing column(s) {named}; expected {', '.join(required)}")


def _require_rows(raw: pd.DataFrame, source: _Source) -> None:
    if raw.empty:
        raise source.error("the file has a header but no trials")


def _require_game(game: Game, name: str, data_format: str, source: _Source) -> None:
    if game.spec.name != name:
        raise source.error(f"the {data_format} format holds {name!r} trials, "
                           f"but the game passed is {game.spec.name!r}")


# --- checking and converting columns ----------------------------------------------------------


def _whole_numbers(raw: pd.DataFrame, column: str, source: _Source, *, low: int,
                   high: int | None = None, expected: str) -> pd.Series:
    """The column as int64, every value a whole number in low..high (inclusive)."""
    numbers = pd.to_numeric(raw[column], errors="coerce")
    ok = numbers.notna() & (numbers % 1 == 0) & (numbers >= low)
    if high is not None:
        ok &= numbers <= high
    _report_first(~ok, raw, column, source, expected)
    return numbers.astype("int64")


def _real_numbers(raw: pd.DataFrame, column: str, source: _Source, *, missing_ok: bool,
                  expected: str) -> pd.Series:
    """The column as float64; empty cells become NaN where `missing_ok`, else an error."""
    numbers = pd.to_numeric(raw[column], errors="coerce").astype("float64")
    bad = numbers.isna() & (raw[column].notna() | (not missing_ok))
    _report_first(bad, raw, column, source, expected)
    return numbers


def _ids(raw: pd.DataFrame, column: str, source: _Source) -> pd.Series:
    ids = raw[column].astype(str)
    _report_first(raw[column].isna() | (ids.str.strip() == ""), raw, column, source,
                  "a participant id")
    return ids


def _booleans(raw: pd.DataFrame, column: str, source: _Source) -> pd.Series:
    """True/False as written by pandas (or 1/0, true/false), as a bool column."""
    if raw[column].dtype == bool:
        return raw[column]
    spelled = raw[column].map(lambda value: str(value).strip().lower(), na_action="ignore")
    truth = spelled.map({"true": True, "1": True, "1.0": True,
                         "false": False, "0": False, "0.0": False})
    _report_first(truth.isna(), raw, column, source, "True or False")
    return truth.astype(bool)


def _action_indices(raw: pd.DataFrame, column: str, names: Sequence[str], source: _Source, *,
                    unknown_ok: bool = False) -> pd.Series:
    low = -1 if unknown_ok else 0
    expected = f"an action index in {low}..{len(names) - 1} ({', '.join(names)})"
    if unknown_ok:
        expected += ", or -1 for unknown"
    return _whole_numbers(raw, column, source, low=low, high=len(names) - 1, expected=expected)


def _names_of(indices: pd.Series, names: Sequence[str]) -> pd.Series:
    """Action names for indices; -1 (unknown) becomes NaN."""
    table = np.array(list(names) + [np.nan], dtype=object)  # index -1 picks the NaN
    return pd.Series(table[indices.to_numpy()], index=indices.index, dtype="str")


def _check_trial_numbering(frame: pd.DataFrame, source: _Source, trial_column: str, *,
                           first: int = 0, noun: str = "trial") -> None:
    """Each participant's trials must be exactly 0, 1, 2, ... (any row order in the file). A file
    that numbers them from `first` (periods 1, 2, ...) is reported in its own numbers."""
    ordered = frame.sort_values(["participant", "trial"], kind="stable")
    expected = ordered.groupby("participant", sort=False).cumcount()
    wrong = ordered["trial"] != expected
    if wrong.any():
        row = wrong.idxmax()
        numbers = ", ".join(str(first + n) for n in range(3))
        raise source.error(
            f"participant {frame.at[row, 'participant']!r}: expected {noun} "
            f"{expected[row] + first} ({noun}s numbered {numbers}, ... without gaps or repeats), "
            f"got {frame.at[row, 'trial'] + first}", row, trial_column)


def _canonical(frame: pd.DataFrame, extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """Canonical columns first with their dtypes, then the format's own columns; sorted."""
    parts = [frame[list(CANONICAL_COLUMNS)]]
    if extra is not None:
        parts.append(extra.drop(columns=[c for c in extra.columns if c in CANONICAL_COLUMNS]))
    table = pd.concat(parts, axis=1).astype({
        "participant": "str", "trial": "int64", "participant_action_index": "int64",
        "adversary_action_index": "int64", "participant_reward": "float64",
        "adversary_reward": "float64", "reaction_time_ms": "float64", "game": "str",
    })
    return table.sort_values(["participant", "trial"], kind="stable").reset_index(drop=True)


# --- the formats ------------------------------------------------------------------------------


def _keep_conditions(raw: pd.DataFrame, conditions: Sequence[str], source: _Source) -> pd.DataFrame:
    if isinstance(conditions, str):
        raise TypeError("conditions must be a list of condition names, not one string")
    if not conditions:
        raise ValueError("conditions must name at least one condition (or be None for all)")
    _require_columns(raw, ["condition"], source)
    names = raw["condition"].astype(str).where(raw["condition"].notna())
    present = sorted(names.dropna().unique())
    absent = [name for name in conditions if name not in present]
    if absent:
        raise source.error(f"condition(s) {', '.join(map(repr, absent))} not in the file; "
                           f"present: {', '.join(present)}")
    return raw[names.isin(list(conditions))]


def _check_action_names(raw: pd.DataFrame, column: str, names: pd.Series,
                        source: _Source) -> None:
    """The export writes each action both as a name and as an index: they must agree."""
    if column not in raw.columns:
        return
    known = names.notna()
    written = raw[column].astype(str)
    bad = known & (written != names)
    if bad.any():
        row = bad.idxmax()
        raise source.error(f"expected {names[row]!r} (the name of the action index in the same "
                           f"row), got {_shown(raw.at[row, column])}", row, column)


def _parse_timestamps(raw: pd.DataFrame, source: _Source) -> pd.DataFrame:
    """CSV holds ISO 8601 text; Parquet already holds UTC timestamps."""
    raw = raw.copy()
    for column in ("presented_at", "responded_at"):
        if column in raw.columns and not isinstance(raw[column].dtype, pd.DatetimeTZDtype):
            parsed = pd.to_datetime(raw[column], utc=True, format="ISO8601", errors="coerce")
            _report_first(parsed.isna() & raw[column].notna(), raw, column, source,
                          "an ISO 8601 timestamp")
            raw[column] = parsed
    return raw


def _read_platform(raw: pd.DataFrame, source: _Source, game: Game,
                   conditions: Sequence[str] | None) -> pd.DataFrame:
    _require_columns(raw, PLATFORM_COLUMNS, source)
    _require_rows(raw, source)
    if conditions is not None:
        raw = _keep_conditions(raw, conditions, source)
    spec = game.spec
    _report_first(raw["game"] != spec.name, raw, "game", source,
                  f"{spec.name!r} (the game passed in)")
    frame = pd.DataFrame(index=raw.index)
    frame["participant"] = _ids(raw, "participant", source)
    frame["trial"] = _whole_numbers(raw, "trial", source, low=0, expected="a trial index ≥ 0")
    frame["participant_action_index"] = _action_indices(
        raw, "participant_action_index", spec.participant_actions, source)
    frame["participant_action"] = _names_of(frame["participant_action_index"],
                                            spec.participant_actions)
    frame["adversary_action_index"] = _action_indices(
        raw, "adversary_action_index", spec.adversary_actions, source, unknown_ok=True)
    frame["adversary_action"] = _names_of(frame["adversary_action_index"], spec.adversary_actions)
    _check_action_names(raw, "participant_action", frame["participant_action"], source)
    _check_action_names(raw, "adversary_action", frame["adversary_action"], source)
    frame["participant_reward"] = _real_numbers(raw, "participant_reward", source,
                                                missing_ok=False, expected="a number")
    frame["adversary_reward"] = _real_numbers(raw, "adversary_reward", source, missing_ok=True,
                                              expected="a number or an empty value")
    frame["reaction_time_ms"] = _real_numbers(raw, "reaction_time_ms", source, missing_ok=True,
                                              expected="a number or an empty value")
    frame["game"] = spec.name
    _check_trial_numbering(frame, source, "trial")
    return _canonical(frame, _parse_timestamps(raw, source))


def _check_consecutive_ids(ids: pd.Series, source: _Source, column: str) -> None:
    """One sequence per id: an id whose rows come back after another id's would silently merge
    two sequences (or mean the rows are out of order), so refuse it."""
    starts = ids != ids.shift()
    runs = starts.groupby(ids, sort=False).cumsum()
    again = runs > 1
    if again.any():
        row = again.idxmax()
        first = ids.index[(ids == ids[row]).to_numpy()][0]
        raise source.error(
            f"expected the rows of id {ids[row]!r} to be consecutive (one sequence per id, in "
            f"trial order), but it already appeared from {source.row_name(first)}",
            row, column)


def _read_bandit(raw: pd.DataFrame, source: _Source, game: Game) -> pd.DataFrame:
    _require_columns(raw, BANDIT_COLUMNS, source)
    _require_rows(raw, source)
    spec = game.spec
    frame = pd.DataFrame(index=raw.index)
    frame["participant"] = _ids(raw, "id", source)
    _check_consecutive_ids(frame["participant"], source, "id")
    # The file has no trial column: rows are in trial order within each id.
    frame["trial"] = frame.groupby("participant", sort=False).cumcount()
    frame["participant_action_index"] = _whole_numbers(raw, "action", source, low=0, high=1,
                                                       expected="0 or 1")
    frame["participant_action"] = _names_of(frame["participant_action_index"],
                                            spec.participant_actions)
    # Only the chosen option's reward is recorded, so the assignment to both options is unknown.
    frame["adversary_action_index"] = -1
    frame["adversary_action"] = pd.Series(np.nan, index=raw.index, dtype="str")
    frame["participant_reward"] = _whole_numbers(raw, "reward", source, low=0, high=1,
                                                 expected="0 or 1").astype("float64")
    frame["adversary_reward"] = np.nan
    frame["reaction_time_ms"] = np.nan
    frame["game"] = spec.name
    extra = raw[[column for column in BANDIT_EXTRA_COLUMNS if column in raw.columns]]
    return _canonical(frame, extra)


def _read_gonogo(raw: pd.DataFrame, source: _Source, game: Game) -> pd.DataFrame:
    _require_columns(raw, GONOGO_COLUMNS, source)
    _require_rows(raw, source)
    spec = game.spec
    withhold, respond = (spec.participant_actions.index(n) for n in ("withhold", "respond"))
    go, nogo = (spec.adversary_actions.index(n) for n in ("go", "nogo"))

    frame = pd.DataFrame(index=raw.index)
    frame["participant"] = _ids(raw, "worker_id", source)
    frame["trial"] = _whole_numbers(raw, "trial_num", source, low=0,
                                    expected="a whole trial number ≥ 0")
    key_press = _real_numbers(raw, "key_press", source, missing_ok=False,
                              expected=f"a key code ({NO_KEY_PRESS} = no press)")
    pressed = key_press != NO_KEY_PRESS
    frame["participant_action_index"] = np.where(pressed, respond, withhold)
    frame["participant_action"] = _names_of(frame["participant_action_index"],
                                            spec.participant_actions)
    condition = raw["condition"].map({"go": go, "nogo": nogo})
    _report_first(condition.isna(), raw, "condition", source, "'go' or 'nogo'")
    frame["adversary_action_index"] = condition.astype("int64")
    frame["adversary_action"] = _names_of(frame["adversary_action_index"], spec.adversary_actions)

    correct = _booleans(raw, "correct", source)
    _check_correct(correct, pressed, frame["adversary_action_index"] == nogo, raw, source)
    frame["participant_reward"] = correct.astype("float64")
    frame["adversary_reward"] = 1.0 - frame["participant_reward"]  # the adversary earns errors
    frame["reaction_time_ms"] = _reaction_times(raw, pressed, source)
    frame["game"] = spec.name
    _check_trial_numbering(frame, source, "trial_num")
    return _canonical(frame)


def _check_correct(correct: pd.Series, pressed: pd.Series, is_nogo: pd.Series,
                   raw: pd.DataFrame, source: _Source) -> None:
    """`correct` is redundant with the actions; a row where they disagree would make the reward
    mean something other than the game's rule, so report it."""
    should_be = pressed != is_nogo  # a press on go, or no press on no-go
    bad = correct != should_be
    if bad.any():
        row = bad.idxmax()
        press = "a press" if pressed[row] else "no press"
        trial_type = "no-go" if is_nogo[row] else "go"
        verdict = "correct" if should_be[row] else "an error"
        raise source.error(f"expected {bool(should_be[row])} ({press} on a {trial_type} trial is "
                           f"{verdict}), got {_shown(raw.at[row, 'correct'])}", row, "correct")


def _reaction_times(raw: pd.DataFrame, pressed: pd.Series, source: _Source) -> pd.Series:
    """rt on a press (must be ≥ 0); no press has no reaction time (rt -1 or empty)."""
    rt = _real_numbers(raw, "rt", source, missing_ok=True, expected="a reaction time in ms")
    _report_first(pressed & ~(rt >= 0), raw, "rt", source,
                  "a reaction time ≥ 0 on a row with a key press")
    _report_first(~pressed & rt.notna() & (rt != -1), raw, "rt", source,
                  "-1 or an empty value on a row without a key press")
    return rt.where(pressed)


def _read_ipd_human(raw: pd.DataFrame, source: _Source, game: Game) -> pd.DataFrame:
    _require_columns(raw, IPD_HUMAN_COLUMNS, source)
    _require_rows(raw, source)
    spec = game.spec
    frame = pd.DataFrame(index=raw.index)
    frame["participant"] = _ids(raw, "sequence", source)
    _check_consecutive_ids(frame["participant"], source, "sequence")
    period = _whole_numbers(raw, "period", source, low=1, expected="a whole period number ≥ 1")
    frame["trial"] = period - 1
    _check_trial_numbering(frame, source, "period", first=1, noun="period")
    # With periods 1, 2, ... per sequence, its last period is its number of periods.
    periods = period.groupby(frame["participant"], sort=False).transform("max")
    last = period == periods

    columns = _ipd_game_columns(raw, source, frame["participant"])
    actions = {name: index for index, name in enumerate(spec.participant_actions)}
    action = raw["action"].map(actions)
    _report_first(action.isna(), raw, "action", source, _either(spec.participant_actions))
    frame["participant_action_index"] = action.astype("int64")
    frame["participant_action"] = _names_of(frame["participant_action_index"],
                                            spec.participant_actions)
    partner = raw["partner_action"].map(
        {name: index for index, name in enumerate(spec.adversary_actions)})
    _report_first(partner.isna() & raw["partner_action"].notna(), raw, "partner_action", source,
                  f"{_either(spec.adversary_actions)}, or an empty value in a sequence's last "
                  "period")
    _report_first(partner.isna() & ~last, raw, "partner_action", source,
                  f"{_either(spec.adversary_actions)} (empty only in a sequence's last period)")
    frame["adversary_action_index"] = partner.fillna(-1).astype("int64")
    frame["adversary_action"] = _names_of(frame["adversary_action_index"], spec.adversary_actions)

    for column in ("payoff", "partner_payoff"):
        values = _real_numbers(raw, column, source, missing_ok=True,
                               expected="a number, or an empty value in a sequence's last period")
        _report_first(values.isna() & ~last, raw, column, source,
                      "a number (empty only in a sequence's last period)")
        columns[column] = values
    own, other = frame["participant_action_index"], frame["adversary_action_index"]
    frame["participant_reward"] = _in_game_units(_matrix_payoff(own, other, columns), columns, game)
    frame["adversary_reward"] = _in_game_units(_matrix_payoff(other, own, columns), columns, game)
    frame["reaction_time_ms"] = np.nan
    frame["game"] = spec.name

    extra = pd.DataFrame({"period": period, **columns}, index=raw.index)
    extra = extra[[column for column in IPD_HUMAN_COLUMNS if column in extra.columns]]
    context = _ipd_context(columns, periods - period, game)
    return _canonical(frame, pd.concat([extra, context], axis=1))


def _either(names: Sequence[str]) -> str:
    """'C' or 'D'; 'a', 'b' or 'c'."""
    quoted = [repr(name) for name in names]
    return " or ".join([", ".join(quoted[:-1]), quoted[-1]]) if len(quoted) > 1 else quoted[0]


def _ipd_game_columns(raw: pd.DataFrame, source: _Source, ids: pd.Series) -> dict[str, pd.Series]:
    """The columns that say which game a sequence is, checked and converted: payoffs T > R > P >
    S, the horizon, the continuation probability, the noise; constant within each sequence."""
    columns: dict[str, pd.Series] = {}
    study = raw["study"].astype(str)
    _report_first(raw["study"].isna() | (study.str.strip() == ""), raw, "study", source,
                  "a study name")
    columns["study"] = study
    columns["treatment"] = _whole_numbers(raw, "treatment", source, low=0,
                                          expected="a whole treatment number ≥ 0")
    for column in ("R", "S", "T", "P"):
        columns[column] = _real_numbers(raw, column, source, missing_ok=False,
                                        expected="a number")
    _check_dilemma(columns, raw, source)
    d = _real_numbers(raw, "continuation_probability", source, missing_ok=False,
                      expected="a probability in [0, 1]")
    _report_first(~((d >= 0) & (d <= 1)), raw, "continuation_probability", source,
                  "a probability in [0, 1]")
    columns["continuation_probability"] = d
    error_rate = _real_numbers(raw, "error_rate", source, missing_ok=False,
                               expected="an error rate in [0, 0.5)")
    _report_first(~((error_rate >= 0) & (error_rate < 0.5)), raw, "error_rate", source,
                  "an error rate in [0, 0.5)")
    columns["error_rate"] = error_rate
    columns["stochastic_payoffs"] = _whole_numbers(raw, "stochastic_payoffs", source, low=0,
                                                   high=1, expected="0 or 1")
    horizon = raw["horizon"]
    _report_first(~horizon.isin(IPD_HORIZONS), raw, "horizon", source, _either(IPD_HORIZONS))
    columns["horizon"] = horizon.astype(str)
    finite = columns["horizon"] == "finite"
    _report_first(~finite & (d >= 1), raw, "continuation_probability", source,
                  "a probability below 1 where the horizon is not finite (the rounds ahead "
                  "are expected to be d / (1 - d))")

    for column in IPD_SEQUENCE_COLUMNS:
        _check_constant(columns[column], ids, raw, column, source)
    # A finite game may say 1 before its last period and 0 at it; an open-ended game's chance
    # of another round is what its context is made of, so it must not change.
    _check_constant(d.where(~finite), ids, raw, "continuation_probability", source,
                    why=" where the horizon is not finite")
    return columns


def _check_dilemma(columns: dict[str, pd.Series], raw: pd.DataFrame, source: _Source) -> None:
    """T > R > P > S on every row; the first row that breaks it names the first broken link."""
    links = (("T", "R"), ("R", "P"), ("P", "S"))
    broken = [~(columns[high] > columns[low]) for high, low in links]
    anywhere = broken[0] | broken[1] | broken[2]
    if anywhere.any():
        row = anywhere.idxmax()
        high, low = next(link for link, bad in zip(links, broken) if bad[row])
        raise source.error(
            f"expected {high} > {low} (a prisoner's dilemma needs T > R > P > S), got {high} = "
            f"{_shown(raw.at[row, high])} and {low} = {_shown(raw.at[row, low])}", row, high)


def _check_constant(values: pd.Series, ids: pd.Series, raw: pd.DataFrame, column: str,
                    source: _Source, why: str = "") -> None:
    """`values` must be the same on every row of a sequence (NaN: not checked on that row)."""
    present = values.notna()
    first = values[present].groupby(ids[present], sort=False).transform("first")
    differs = present & (values != first.reindex(values.index))
    if differs.any():
        row = differs.idxmax()
        sequence = ids[row]
        first_row = ids.index[(ids == sequence).to_numpy() & present.to_numpy()][0]
        raise source.error(
            f"sequence {sequence!r}: expected {_shown(raw.at[first_row, column])} (the value "
            f"from {source.row_name(first_row)}; {column} is constant within a sequence{why}), "
            f"got {_shown(raw.at[row, column])}", row, column)


def _matrix_payoff(own: pd.Series, other: pd.Series, columns: dict[str, pd.Series]) -> pd.Series:
    """The row's payoff matrix at (own, other) actions (0 = C, 1 = D); NaN where the other's
    action is unknown (-1). The file's `payoff` columns are on each study's own scale (costs in
    KS, lottery draws in the stochastic treatments, cumulative points in AM's partner_payoff,
    realised moves under FR's noise), so the matrix, which every study states on one scale, is
    what the rewards are read from."""
    table = {(0, 0): "R", (0, 1): "S", (1, 0): "T", (1, 1): "P"}
    payoff = pd.Series(np.nan, index=own.index, dtype="float64")
    for (mine, theirs), name in table.items():
        here = (own == mine) & (other == theirs)
        payoff[here] = columns[name][here]
    return payoff


def _in_game_units(payoffs: pd.Series, columns: dict[str, pd.Series], game: Game) -> pd.Series:
    """Payoffs on the row's own scale (S..T) mapped linearly onto the game's (its sucker's
    payoff..its temptation)."""
    sucker, temptation = game.params.sucker, game.params.temptation
    share = (payoffs - columns["S"]) / (columns["T"] - columns["S"])
    return (sucker + share * (temptation - sucker)).astype("float64")


def _ipd_context(columns: dict[str, pd.Series], periods_after: pd.Series,
                 game: Game) -> pd.DataFrame:
    """The participant context columns (context_columns) of each row."""
    finite = (columns["horizon"] == "finite").to_numpy()
    d = columns["continuation_probability"].to_numpy(dtype=np.float64)
    d = np.where(finite, 0.0, d)  # unused where finite; keeps 1 / (1 - d) finite
    rounds_ahead = np.where(finite, periods_after.to_numpy(dtype=np.float64), d / (1.0 - d))

    def tensor(values):
        return torch.tensor(np.array(values, dtype=np.float64))

    features = situation_features(
        reward=tensor(columns["R"]), sucker=tensor(columns["S"]), temptation=tensor(columns["T"]),
        punishment=tensor(columns["P"]), rounds_ahead=tensor(rounds_ahead),
        known_length=torch.tensor(finite), error_rate=tensor(columns["error_rate"]))
    return pd.DataFrame(features.double().numpy(), index=periods_after.index,
                        columns=context_columns(game))


# --- public API -------------------------------------------------------------------------------


_ID_COLUMNS = {"platform": "participant", "bandit-choice-engineering": "id",
               "gonogo-self-regulation": "worker_id", "ipd-human-games": "sequence"}
# The game each published data set's trials are of (platform exports hold any game).
_FORMAT_GAMES = {"bandit-choice-engineering": "bandit", "gonogo-self-regulation": "gonogo",
                 "ipd-human-games": "ipd"}
_READERS = {"bandit-choice-engineering": _read_bandit, "gonogo-self-regulation": _read_gonogo,
            "ipd-human-games": _read_ipd_human}


def participant_column(data_format: str) -> str:
    """The column of a raw file of `data_format` that names the participant."""
    if data_format not in DATA_FORMATS:
        raise DataFormatError(f"unknown data format {data_format!r}; "
                              f"expected one of {', '.join(DATA_FORMATS)}")
    return _ID_COLUMNS[data_format]


def read_trials(path: str | Path, data_format: str = "platform", *, game: Game,
                conditions: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a trial file of `data_format` (one of DATA_FORMATS) into the canonical long table
    (see the module docstring), checked against `game`. `conditions` (platform format only)
    keeps the trials of those study conditions."""
    if data_format not in DATA_FORMATS:
        raise DataFormatError(f"unknown data format {data_format!r}; "
                              f"expected one of {', '.join(DATA_FORMATS)}")
    if not isinstance(game, Game):
        raise TypeError(f"game must be a Game (shaping_core.games.make_game), got {game!r}")
    if conditions is not None and data_format != "platform":
        raise ValueError(f"conditions apply only to the platform format, not {data_format!r}")
    source = _source_for(Path(path))
    if data_format in _FORMAT_GAMES:
        _require_game(game, _FORMAT_GAMES[data_format], data_format, source)
    raw = _read_table(source, text_columns=[_ID_COLUMNS[data_format]])
    if data_format == "platform":
        return _read_platform(raw, source, game, conditions)
    return _READERS[data_format](raw, source, game)


def load_sequences(path: str | Path, data_format: str = "platform", *, game: Game,
                   conditions: Sequence[str] | None = None) -> TrialSequences:
    """read_trials, padded into TrialSequences whose provenance records the file and its hash."""
    frame = read_trials(path, data_format, game=game, conditions=conditions)
    provenance: dict[str, Any] = {
        "path": str(Path(path).resolve()),
        "format": data_format,
        "sha256": _sha256(Path(path)),
        "rows": len(frame),
        "participants": int(frame["participant"].nunique()),
    }
    if conditions is not None:
        provenance["conditions"] = list(conditions)
    return sequences_from_frame(frame, game, provenance)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
