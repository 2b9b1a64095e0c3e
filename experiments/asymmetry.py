"""The asymmetry study: how shaping grows with the adversary's model fidelity and its shaping
weight beta, in the IPD against people (the human surrogate and IPD learners) and in the trust
game against synthetic investors; and when adversaries build trust and then betray it.

    python experiments/asymmetry.py --small --out out/asymmetry_small      # minutes on 2 CPUs
    python experiments/asymmetry.py --out out/asymmetry                    # the full study

The cells are shaping_core/asymmetry.py's; they run in parallel (--jobs, joblib) and each is
written to <part>/cells/<key>.json when it finishes, so a run that is stopped resumes from the
cells already written. Parts (--parts):

- ipd     fidelity x (AdAlign beta, FAIR) x seeds in the platform's default IPD (20 announced
          rounds), played against the human surrogate fitted on all the human games
          (shaping_core/checkpoints/surrogates/ipd-human.pt, experiments/ipd_surrogate.py) and
          the IPD learner families;
- ipd-study  the same objectives at full fidelity in study DO's version of the IPD (its payoffs,
          another round with probability 0.9);
- trust   the same grid in the trust game, with synthetic investors as the true people;
- turn    the build-then-betray index of MAX (beta 0), AdAlign (beta 1) and FAIR at several
          horizons and discounts, in the trust game and the IPD, at full fidelity.

Each part writes config.json, metrics.json (every cell, and per opponent the mean and std over
seeds of every measure), table.md and figures (heatmaps.png; turn: turn.png). Every figure and
table is against true opponents the adversary never trained on; "own surrogate" rows are the
model it trained against, for reference.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from shaping_core.asymmetry import (PEOPLE_NEED, Cell, SweepSettings, baselines,  # noqa: E402
                                    fidelity_nll, people_for, run_sweep, summarize)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "ipd_human_games.csv.gz"
TRUE_SURROGATE = ROOT / "shaping_core" / "checkpoints" / "surrogates" / "ipd-human.pt"
PARTS = ("ipd", "ipd-study", "trust", "turn")
# One human study's version of the IPD (study DO: payoffs 0.2, 0, 0.3, 0.1 and another round with
# probability 0.9), for the adversaries at full fidelity in a game people actually played.
STUDY_IPD = {"reward": 0.2, "sucker": 0.0, "temptation": 0.3, "punishment": 0.1,
             "continuation_probability": 0.9, "max_rounds": 60}
MEASURES = (("adversary_points", "adversary's points / round"),
            ("person_points", "person's points / round"),
            ("joint_points", "joint points / round"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--small", action="store_true",
                        help="3 fidelities x 3 betas (+ FAIR) x 1 seed, shorter training")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the seeds")
    parser.add_argument("--fidelities", type=float, nargs="+", help="override the fidelities")
    parser.add_argument("--betas", type=float, nargs="+", help="override the AdAlign betas")
    parser.add_argument("--horizons", type=int, nargs="+", default=[5, 10, 20],
                        help="the game lengths of the build-then-betray part")
    parser.add_argument("--iterations", type=int, help="override the PPO batches per adversary")
    parser.add_argument("--eval-episodes", type=int, help="override the episodes per opponent")
    parser.add_argument("--surrogate-steps", type=int, help="override the surrogates' training steps")
    parser.add_argument("--simulated-people", type=int, help="override the trust game's investors")
    parser.add_argument("--jobs", type=int, default=2, help="cells run side by side")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                        help="where each cell trains and plays (with cuda, --jobs 1 per GPU)")
    parser.add_argument("--data", type=Path, default=DATA, help="the human IPD games")
    parser.add_argument("--true-surrogate", type=Path, default=TRUE_SURROGATE)
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if min(args.horizons) < 1:
        parser.error("--horizons must be at least 1")
    if {"ipd", "ipd-study", "turn"} & set(args.parts):
        for flag, path in (("--data", args.data), ("--true-surrogate", args.true_surrogate)):
            if not path.is_file():
                parser.error(f"{flag}: {path} is not a file (the IPD parts need it)")
    return args


def sweep_settings(args: argparse.Namespace, game: str) -> SweepSettings:
    size = dict(fidelities=(0.0, 0.05, 1.0), betas=(0.0, 1.0, 4.0), seeds=(0,), iterations=60,
                eval_episodes=1024, surrogate_steps=300) if args.small else {}
    for name in ("seeds", "fidelities", "betas", "iterations", "eval_episodes", "surrogate_steps",
                 "simulated_people"):
        if getattr(args, name):
            size[name] = getattr(args, name)
    if game == "ipd-study":
        game, size["game_params"], size["fidelities"] = "ipd", STUDY_IPD, (1.0,)
    size["device"] = args.device
    paths = {name: str(getattr(args, name)) for name in PEOPLE_NEED.get(game, ())}
    try:
        return SweepSettings(game=game, **size, **paths)
    except ValueError as error:
        raise SystemExit(f"asymmetry.py: error: {error}") from None


def turn_cells(settings: SweepSettings, horizons: list[int], small: bool) -> list[Cell]:
    gammas = (1.0,) if small else (1.0, 0.9)
    objectives = (("adalign", 0.0), ("adalign", 1.0), ("fair", 0.0))
    return [Cell(1.0, objective, beta, seed, rounds, gamma) for rounds in horizons
            for gamma in gammas for objective, beta in objectives for seed in settings.seeds]


def _shown(mean: float, std: float, n: int, form: str) -> str:
    """mean ± std over seeds; one seed has no spread to show."""
    return form.format(mean) + (f" ± {std:.3f}" if n > 1 else " (1 seed)")


def objective_label(objective: str, beta: float) -> str:
    if objective == "fair":
        return "FAIR"
    return "MAX (β=0)" if beta == 0 else f"AdAlign β={beta:g}"


def _write_common(folder: Path, settings: SweepSettings, people, argv, started: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    config = {"argv": argv, "settings": dataclasses.asdict(settings), "people": people.description,
              "torch": torch.__version__, "python": platform.python_version(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started))}
    (folder / "config.json").write_text(json.dumps(config, indent=2, default=str) + "\n")


def grid_part(name: str, args, argv) -> None:
    """One fidelity x objective grid (ipd or trust)."""
    settings = sweep_settings(args, name)
    folder = args.out / name
    started = time.time()
    people = people_for(settings)
    _write_common(folder, settings, people, argv, started)
    rows = run_sweep(settings, folder, jobs=args.jobs)
    classic = baselines(settings, people)
    nll = fidelity_nll(rows)
    opponents = list(rows[0]["against"])
    summary = {opponent: {measure: {json.dumps(list(key)): list(value) for key, value in
                                    summarize(rows, opponent, measure).items()}
                          for measure in ("adversary_points", "person_points", "joint_points",
                                          "person_gives", "adversary_gives", "build_then_betray")}
               for opponent in opponents}
    metrics = {"cells": rows, "fidelity_nll": {str(f): list(v) for f, v in nll.items()},
               "summary (key: [fidelity, objective, beta, rounds, gamma]; value: [mean, std, seeds])": summary,
               "baselines": classic, "seconds": time.time() - started}
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    (folder / "table.md").write_text(grid_table(settings, rows, classic, nll, opponents) + "\n")
    plot_heatmaps(settings, rows, nll, [o for o in opponents if o != "own surrogate"],
                  folder / "heatmaps.png", name)
    plot_rounds(settings, rows, classic, opponents[0], folder / "person_by_round.png", name)
    print((folder / "table.md").read_text())


def _columns(settings: SweepSettings) -> list[tuple[str, float]]:
    return [("adalign", beta) for beta in settings.betas] + ([("fair", 0.0)] if settings.fair else [])


def grid_table(settings, rows, classic, nll, opponents) -> str:
    lines = []
    fidelity_names = {f: f"{f:g} of the games (held-out NLL {m:.3f} ± {s:.3f})" for f, (m, s) in nll.items()}
    for opponent in opponents:
        lines += [f"### against {opponent}", ""]
        for measure, label in MEASURES:
            stats = summarize(rows, opponent, measure)
            header = "| fidelity | " + " | ".join(objective_label(o, b) for o, b in _columns(settings)) + " |"
            lines += [f"{label}, mean ± std over {len(settings.seeds)} seeds", "", header,
                      "|---|" + "---:|" * len(_columns(settings))]
            for fidelity in settings.fidelities:
                cells = [stats[(fidelity, o, b, None, None)] for o, b in _columns(settings)]
                lines.append(f"| {fidelity_names[fidelity]} | "
                             + " | ".join(_shown(m, s, n, "{:.4g}") for m, s, n in cells) + " |")
            if opponent in next(iter(classic.values())):
                lines.append("| classic: " + ", ".join(
                    f"{name} {classic[name][opponent][measure]:.4g}" for name in classic) + " |"
                    + " |" * (len(_columns(settings)) - 1) + " |")
            lines.append("")
        lines += strategy_table(settings, rows, classic, opponent)
    return "\n".join(lines)


def strategy_table(settings, rows, classic, opponent) -> list[str]:
    """The adversary's memory-one strategy and zero-determinant fit at the highest fidelity, where
    the people say it (the IPD): mean over seeds."""
    top = max(settings.fidelities)
    chosen = [r for r in rows if r["cell"]["fidelity"] == top and "memory_one" in r["against"][opponent]]
    if not chosen:
        return []
    lines = [f"adversary's memory-one strategy P(C | start, CC, CD, DC, DD) (its move first; mean "
             f"over seeds) and zero-determinant fit (median over seeds) at fidelity {top:g}: the "
             "line s_adversary - baseline = slope (s_person - baseline) it comes closest to "
             "enforcing (extortion: baseline P, slope > 1; generosity: baseline R); person's "
             "cooperation in the first, middle and last round", "",
             "| adversary | P(C): start, CC, CD, DC, DD | ZD slope | ZD baseline | ZD misfit | "
             "person's cooperation (first, middle, last round) |", "|---|---|---:|---:|---:|---|"]

    def line(label, measures):
        p = {s: _mean_seen([m["memory_one"][s] for m in measures]) for s in measures[0]["memory_one"]}
        zd = {k: _median_seen([m["zero_determinant"][k] for m in measures])
              for k in ("slope", "baseline", "residual")}
        rounds = np.mean([m["person_gives_by_round"] for m in measures], axis=0)
        return (f"| {label} | " + ", ".join(f"{v:.2f}" for v in p.values()) + f" | {zd['slope']:.2f} | "
                f"{zd['baseline']:.2f} | {zd['residual']:.2f} | "
                f"{rounds[0]:.2f}, {rounds[len(rounds) // 2]:.2f}, {rounds[-1]:.2f} |")

    for objective, beta in _columns(settings):
        measures = [r["against"][opponent] for r in chosen
                    if (r["cell"]["objective"], r["cell"]["beta"]) == (objective, beta)]
        lines.append(line(objective_label(objective, beta), measures))
    for name, by_opponent in classic.items():
        if opponent in by_opponent:
            lines.append(line(f"classic: {name}", [by_opponent[opponent]]))
    return lines + [""]


def _median_seen(values: list[float]) -> float:
    seen = [v for v in values if not np.isnan(v)]
    return float(np.median(seen)) if seen else float("nan")


def _mean_seen(values: list[float]) -> float:
    """The mean of the values that are not NaN (a state an adversary never met), else NaN."""
    seen = [v for v in values if not np.isnan(v)]
    return float(np.mean(seen)) if seen else float("nan")


def plot_rounds(settings, rows, classic, opponent, path: Path, title: str) -> None:
    """The person's giving (cooperation, investment) by round against each objective at the
    highest fidelity, beside the classic adversaries."""
    top = max(settings.fidelities)
    fig, ax = plt.subplots(figsize=(7, 4))
    for objective, beta in _columns(settings):
        curves = [r["against"][opponent]["person_gives_by_round"] for r in rows
                  if (r["cell"]["fidelity"], r["cell"]["objective"], r["cell"]["beta"]) == (top, objective, beta)]
        length = min(len(c) for c in curves)
        curves = np.array([c[:length] for c in curves])
        mean = curves.mean(axis=0)
        (drawn,) = ax.plot(np.arange(1, length + 1), mean, label=objective_label(objective, beta))
        if len(curves) > 1:
            std = curves.std(axis=0, ddof=1)
            ax.fill_between(np.arange(1, length + 1), mean - std, mean + std, alpha=0.15, color=drawn.get_color())
    for name, by_opponent in classic.items():
        if opponent in by_opponent:
            curve = by_opponent[opponent]["person_gives_by_round"]
            ax.plot(np.arange(1, len(curve) + 1), curve, linestyle="--", label=f"classic: {name}")
    ax.set_xlabel("round")
    ax.set_ylabel("person's giving (cooperation / share invested)")
    ax.set_title(f"{title}: against {opponent}, fidelity {top:g} (mean ± std over seeds)", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_heatmaps(settings, rows, nll, opponents, path: Path, title: str) -> None:
    columns = _columns(settings)
    fig, axes = plt.subplots(len(opponents), len(MEASURES), squeeze=False,
                             figsize=(4.2 * len(MEASURES), 2.6 * len(opponents) + 0.6))
    for i, opponent in enumerate(opponents):
        for j, (measure, label) in enumerate(MEASURES):
            stats = summarize(rows, opponent, measure)
            grid = np.array([[stats[(f, o, b, None, None)][0] for o, b in columns]
                             for f in settings.fidelities])
            ax = axes[i][j]
            image = ax.imshow(grid, cmap="viridis", aspect="auto")
            for (r, c), value in np.ndenumerate(grid):
                ax.text(c, r, f"{value:.3g}", ha="center", va="center", fontsize=7, color="white")
            ax.set_xticks(range(len(columns)), [objective_label(o, b).replace("AdAlign ", "")
                                                .replace(" (β=0)", "") for o, b in columns],
                          fontsize=7, rotation=30)
            ax.set_yticks(range(len(settings.fidelities)),
                          [f"{f:g} (NLL {nll[f][0]:.3f})" for f in settings.fidelities], fontsize=7)
            ax.set_title(f"{opponent}: {label}", fontsize=8)
            fig.colorbar(image, ax=ax, fraction=0.046)
    fig.suptitle(f"{title}: fidelity of the adversary's model (rows) x objective (columns), "
                 f"mean over {len(settings.seeds)} seeds", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def turn_part(args, argv) -> None:
    """Build-then-betray by horizon, discount and objective, in the trust game and the IPD."""
    results = {}
    for game in ("trust", "ipd"):
        settings = sweep_settings(args, game)
        folder = args.out / "turn" / game
        started = time.time()
        people = people_for(settings)
        _write_common(folder, settings, people, argv, started)
        cells = turn_cells(settings, args.horizons, args.small)
        rows = run_sweep(settings, folder, cells, jobs=args.jobs)
        # The classic adversaries at each horizon: the index of an adversary that only
        # reciprocates (tit-for-tat against people who defect at the end) is not zero.
        classic = {rounds: baselines(settings, people, rounds) for rounds in args.horizons}
        results[game] = (settings, rows, list(rows[0]["against"]), classic)
    metrics, lines = {}, []
    for game, (settings, rows, opponents, classic) in results.items():
        metrics[game] = {"cells": rows, "summary": {
            opponent: {json.dumps(list(k)): list(v) for k, v in
                       summarize(rows, opponent, "build_then_betray").items()}
            for opponent in opponents}, "baselines": {str(r): c for r, c in classic.items()}}
        names = list(next(iter(classic.values())))
        for opponent in opponents:
            lines += [f"### {game}, against {opponent}: build-then-betray index (the adversary's "
                      "giving in the first third minus the last third), mean ± std over "
                      f"{len(settings.seeds)} seeds; classic adversaries beside them", "",
                      "| rounds | discount | MAX (β=0) | AdAlign β=1 | FAIR | "
                      + " | ".join(f"classic: {name}" for name in names) + " |",
                      "|---:|---:|---:|---:|---:|" + "---:|" * len(names)]
            stats = summarize(rows, opponent, "build_then_betray")
            for rounds in sorted({r["cell"]["rounds"] for r in rows}):
                for gamma in sorted({r["cell"]["gamma"] for r in rows}, reverse=True):
                    values = [stats[(1.0, o, b, rounds, gamma)] for o, b in
                              (("adalign", 0.0), ("adalign", 1.0), ("fair", 0.0))]
                    reference = [f"{classic[rounds][name][opponent]['build_then_betray']:+.3f}"
                                 if opponent in classic[rounds][name] else "" for name in names]
                    lines.append(f"| {rounds} | {gamma:g} | "
                                 + " | ".join(_shown(m, s, n, "{:+.3f}") for m, s, n in values)
                                 + " | " + " | ".join(reference) + " |")
            lines.append("")
    folder = args.out / "turn"
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    (folder / "table.md").write_text("\n".join(lines) + "\n")
    plot_turn(results, folder / "turn.png")
    print("\n".join(lines))


def plot_turn(results, path: Path) -> None:
    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 3.8), squeeze=False)
    for ax, (game, (settings, rows, opponents, classic)) in zip(axes[0], results.items()):
        opponent = opponents[0]
        stats = summarize(rows, opponent, "build_then_betray")
        gamma = 1.0
        horizons = sorted({r["cell"]["rounds"] for r in rows})
        for objective, beta in (("adalign", 0.0), ("adalign", 1.0), ("fair", 0.0)):
            means = [stats[(1.0, objective, beta, h, gamma)][0] for h in horizons]
            stds = [stats[(1.0, objective, beta, h, gamma)][1] for h in horizons]
            ax.errorbar(horizons, means, yerr=stds, marker="o", capsize=3,
                        label=objective_label(objective, beta))
        for name in next(iter(classic.values())):
            ax.plot(horizons, [classic[h][name][opponent]["build_then_betray"] for h in horizons],
                    linestyle="--", marker=".", label=f"classic: {name}")
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set_xlabel("rounds (announced to the adversary; the game's length)")
        ax.set_ylabel("giving, first third − last third")
        ax.set_title(f"{game}: against {opponent} (discount 1)", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    started = time.time()
    for part in args.parts:
        if part == "turn":
            turn_part(args, argv)
        else:
            grid_part(part, args, argv)
    print(f"asymmetry: {', '.join(args.parts)} done in {time.time() - started:.0f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
