"""A study's results at a glance: choice rates by trial and earnings, per condition.

Used by `manage.py study_report` (figures, a CSV of the plotted numbers, a metrics JSON) and by the
admin's Monitor page (live summaries and the same figures).

Everything here is a pure function of the export's trial table (`export.trials_frame`, columns in
docs/data.md) and the study's game, except `study_report`, which loads that table: without test
participants (researchers' previews) unless asked for. The numbers:

- One *measure* per trial, declared by each game (`Game.trial_measures`): IPD cooperation (the
  participant played `C`); bandit target choice; go/no-go error (a response on a no-go trial or
  none on a go trial); trust investment fraction (points invested / endowment) and return fraction
  (undefined, so left out, in rounds where nothing was invested).
- *By trial*: for each condition, measure and trial index, the mean over the participants who
  completed that trial, ± the standard error of the mean (sample standard deviation / sqrt(n);
  undefined when n < 2). Every participant with trials counts, finished or not.
- *Per participant*: each participant's mean of a measure over their trials; and their earnings,
  the total points of each side (`participant_reward`, `adversary_reward`) over their trials.
- *Per condition*: mean ± standard error over participants of the per-participant values. Earnings
  count only participants who completed the game (a partial game's total is not comparable);
  rates count everyone with trials.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shaping_core.games.base import Game, TrialMeasure

SPREAD = "mean ± standard error of the mean across participants (sample SD / sqrt(n); undefined, left empty, when n < 2)"
SUMMARY_COLUMNS = ["figure", "condition", "measure", "trial", "n", "mean", "sem", "low", "high"]
EARNINGS = ("participant_points", "adversary_points")
EARNINGS_FIGURE = "earnings.png"


def condition_figure(condition: str) -> str:
    """File name of a condition's by-trial figure (condition names are slugs)."""
    return f"condition-{condition}.png"


def _spread(grouped) -> pd.DataFrame:
    """n, mean, sem, low, high of each group's non-missing values."""
    stats = grouped.agg(n="count", mean="mean", sd="std")
    stats["n"] = stats["n"].astype("int64")
    stats["sem"] = stats["sd"] / np.sqrt(stats["n"])
    stats.loc[stats["n"] < 2, "sem"] = np.nan
    stats["low"], stats["high"] = stats["mean"] - stats["sem"], stats["mean"] + stats["sem"]
    return stats[stats["n"] > 0].drop(columns="sd")  # a group of only undefined values has nothing to show


@dataclass(frozen=True)
class Report:
    game: str
    conditions: list[str]  # every condition, in study order, with or without trials
    measures: list[TrialMeasure]
    by_trial: pd.DataFrame  # condition, measure, trial, n, mean, sem, low, high
    per_participant: pd.DataFrame  # condition, participant, status, trials, <measures>, <EARNINGS>
    per_condition: pd.DataFrame  # condition, measure, n, mean, sem, low, high (measures and EARNINGS)

    def summary(self, condition: str, measure: str) -> dict:
        """n, mean, sem, low, high of a per-condition measure (zeros and None when there is no data)."""
        row = self.per_condition[(self.per_condition["condition"] == condition)
                                 & (self.per_condition["measure"] == measure)]
        if row.empty:
            return {"n": 0, "mean": None, "sem": None, "low": None, "high": None}
        row = row.iloc[0]
        return {"n": int(row["n"]), **{k: _finite(row[k]) for k in ("mean", "sem", "low", "high")}}

    def condition_summaries(self) -> dict[str, dict]:
        """Per condition: participants and trials in the table, every measure's and both sides' earnings'
        summary, JSON-ready (missing numbers are None)."""
        result = {}
        for condition in self.conditions:
            rows = self.per_participant[self.per_participant["condition"] == condition]
            result[condition] = {
                "participants_with_trials": len(rows),
                "trials": int(rows["trials"].sum()),
                "measures": {m.name: self.summary(condition, m.name) for m in self.measures},
                "earnings_of_completed": {side: self.summary(condition, side) for side in EARNINGS},
            }
        return result

    def plotted_numbers(self) -> pd.DataFrame:
        """Exactly the numbers in the figures: by-trial curves per condition figure, then earnings."""
        curves = self.by_trial.assign(figure=self.by_trial["condition"].map(condition_figure))
        earnings = self.per_condition[self.per_condition["measure"].isin(EARNINGS)].assign(
            figure=EARNINGS_FIGURE, trial=pd.NA)
        return pd.concat([curves[SUMMARY_COLUMNS], earnings[SUMMARY_COLUMNS]], ignore_index=True)


def summarize(frame: pd.DataFrame, game: Game, conditions: Sequence[str] | None = None) -> Report:
    """The report of a trial table (one row per completed trial, as exported)."""
    measures = list(game.trial_measures)
    conditions = list(conditions) if conditions is not None else list(dict.fromkeys(frame["condition"]))
    names = [m.name for m in measures]
    trials = frame[["condition", "participant", "participant_status", "trial",
                    "participant_reward", "adversary_reward"]].copy()
    for measure in measures:
        trials[measure.name] = measure.values(frame, game).astype(float)

    long = trials.melt(id_vars=["condition", "participant", "trial"], value_vars=names, var_name="measure")
    by_trial = _spread(long.groupby(["condition", "measure", "trial"])["value"]).reset_index()

    per_participant = trials.groupby(["condition", "participant"], sort=False).agg(
        status=("participant_status", "first"), trials=("trial", "count"),
        **{name: (name, "mean") for name in names},
        participant_points=("participant_reward", "sum"), adversary_points=("adversary_reward", "sum"),
    ).reset_index()

    rates = per_participant.melt(id_vars=["condition"], value_vars=names, var_name="measure")
    completed = per_participant[per_participant["status"] == "completed"]
    earnings = completed.melt(id_vars=["condition"], value_vars=list(EARNINGS), var_name="measure")
    per_condition = _spread(pd.concat([rates, earnings]).groupby(["condition", "measure"])["value"]).reset_index()

    rank = {"condition": {name: i for i, name in enumerate(conditions)},
            "measure": {name: i for i, name in enumerate(names + list(EARNINGS))}}

    def ordered(table, columns):  # study order of conditions, then measures, then the given columns
        table = table[table["condition"].isin(rank["condition"])]
        return table.sort_values(columns, key=lambda s: s.map(rank[s.name]) if s.name in rank else s,
                                 kind="stable").reset_index(drop=True)

    return Report(game=game.spec.name, conditions=conditions, measures=measures,
                  by_trial=ordered(by_trial, ["condition", "measure", "trial"]),
                  per_participant=ordered(per_participant, ["condition"]),
                  per_condition=ordered(per_condition, ["condition", "measure"]))


def study_report(*, study, conditions: Sequence[str] | None = None, include_test: bool = False) -> Report:
    """The report of a study's stored trials (the only function here that reads the database).
    Test participants (researchers' previews) count only with `include_test`."""
    from .export import trials_frame  # here, so the rest imports without Django (e.g. on an exported CSV)

    if conditions is None:
        conditions = list(study.conditions.values_list("name", flat=True))
    return summarize(trials_frame(study=study, include_test=include_test), study.make_game(), conditions)


def metrics(report: Report, *, study: str, participants: dict[str, dict[str, int]]) -> dict:
    """The metrics JSON: participants per condition and status (all who joined, from the database), and
    the per-condition summaries."""
    summaries = report.condition_summaries()
    return {
        "study": study, "game": report.game, "spread": SPREAD,
        "measures": {m.name: m.label for m in report.measures},
        "conditions": {c: {"participants": participants.get(c, {}), **summaries[c]} for c in report.conditions},
    }


def _finite(value):
    """A float for JSON: None for NaN/missing."""
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# ---- figures (matplotlib's object API with the Agg canvas: no pyplot state, safe in a web worker) ----

def _figure(width=6.0, height=3.6):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def condition_png(report: Report, condition: str) -> bytes:
    """The condition's measures by trial, mean ± standard error across participants."""
    figure = _figure()
    axes = figure.add_subplot()
    curves = report.by_trial[report.by_trial["condition"] == condition]
    for measure in report.measures:
        curve = curves[curves["measure"] == measure.name]
        if curve.empty:
            continue
        line, = axes.plot(curve["trial"], curve["mean"], marker="o" if len(curve) <= 30 else None,
                          markersize=3, label=measure.label)
        axes.fill_between(curve["trial"], curve["low"], curve["high"], color=line.get_color(), alpha=0.25,
                          linewidth=0)
    participants = int((report.per_participant["condition"] == condition).sum())
    if curves.empty:
        axes.text(0.5, 0.5, "no trials yet", ha="center", va="center", transform=axes.transAxes)
    else:
        axes.legend(loc="best", fontsize=8)
    axes.set_ylim(-0.02, 1.02)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel("trial")
    axes.set_ylabel("rate" if len(report.measures) > 1 else report.measures[0].label)
    axes.set_title(f"{condition}: {participants} participant{'' if participants == 1 else 's'} (mean ± s.e.m.)",
                   fontsize=10)
    return _png(figure)


def earnings_png(report: Report) -> bytes:
    """Total points per participant of both sides, per condition, mean ± standard error (completed games)."""
    figure = _figure(width=max(4.0, 1.6 * len(report.conditions) + 2), height=3.6)
    axes = figure.add_subplot()
    positions = np.arange(len(report.conditions))
    for offset, side, label in [(-0.2, "participant_points", "participant"), (0.2, "adversary_points", "adversary")]:
        stats = [report.summary(c, side) for c in report.conditions]
        means = [s["mean"] if s["mean"] is not None else np.nan for s in stats]
        errors = [s["sem"] if s["sem"] is not None else np.nan for s in stats]  # no bar where undefined
        axes.bar(positions + offset, means, width=0.4, yerr=errors, capsize=3, label=label)
    counts = [report.summary(c, "participant_points")["n"] for c in report.conditions]
    axes.set_xticks(positions, [f"{c}\n(n={n})" for c, n in zip(report.conditions, counts)])
    axes.set_xlim(-0.6, len(report.conditions) - 0.4)
    axes.set_ylabel("points per participant")
    axes.set_title("Earnings of completed games (mean ± s.e.m.)", fontsize=10)
    if not any(counts):
        axes.text(0.5, 0.5, "no completed games yet", ha="center", va="center", transform=axes.transAxes)
    else:
        axes.legend(loc="best", fontsize=8)
    return _png(figure)


def write_report(report: Report, out: Path, metrics: dict) -> list[Path]:
    """Write the figures (conditions with trials; earnings when a game was completed), report.csv (the
    plotted numbers) and metrics.json; return the paths written."""
    written = []

    def write(name: str, data: bytes) -> None:
        path = out / name
        path.write_bytes(data)
        written.append(path)

    for condition in report.conditions:
        if (report.by_trial["condition"] == condition).any():
            write(condition_figure(condition), condition_png(report, condition))
    if any(report.summary(c, "participant_points")["n"] for c in report.conditions):
        write(EARNINGS_FIGURE, earnings_png(report))
    write("report.csv", report.plotted_numbers().to_csv(index=False).encode())
    write("metrics.json", (json.dumps(metrics, indent=2) + "\n").encode())
    return written
