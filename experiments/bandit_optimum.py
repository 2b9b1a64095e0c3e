"""The best target-choice rate any adversary can reach against a known learner on the bandit.

The choice-engineering bandit against a learner with fixed, known parameters is a fully observed
decision problem for the adversary when the learner's state is small: for the Q-learner
(shaping_core/learners/q_learning.py) it is (Q of each option, its previous choice), and the
game's is the trial and the rewards left per option. Dynamic programming over that state
(shaping_core/algorithms/bandit_dp.py), with the two Q values on a grid of --grid points (linear
interpolation between them), gives the optimal expected target rate: an upper bound for every
adversary, trained or hand-written, that must learn or guess the learner's state instead of
reading it. It says whether a target rate asked of an adversary is possible at all for a given
learner (the transfer test of docs/loop.md).

    python experiments/bandit_optimum.py --out out/bandit_optimum \
        --alpha 0.3 --beta 4 8 --kappa 0.3 [--grid 21] [--episodes 4096] [--seed 0]
    python experiments/bandit_optimum.py --out out/bandit_optimum_zoo \
        --family q_learning wsls [--participants 16] [--grid 21] [--episodes 4096] [--seed 0]

Without --family, every combination of the listed Q-learner parameters is solved. For each, the
optimal policy (`OracleAdversary`, which tracks the learner's state on the grid) then plays
--episodes episodes against the learner itself on the platform's game rules, next to the
budget-respecting random schedule: the simulated rate checks the grid's value (they differ only by
the grid's error and sampling noise). With --family, each named family of the bandit's learner zoo
(shaping_core/learners/zoo.py) is solved for --participants people drawn from its parameter
distribution (shaping_core/optimum.py), the --episodes split evenly among them; a family whose
learner has no tabular form gets no optimum. Writes config.json, metrics.json and optimum.png to
--out; the last line printed is JSON with, per parameter set or family, the optimum, the simulated
rate and the random schedule's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shaping_core.arguments import positive  # noqa: E402
from shaping_core.games import make_game  # noqa: E402
from shaping_core.learners import family  # noqa: E402
from shaping_core.learners.q_learning import QLearningParams  # noqa: E402
from shaping_core.optimum import family_optimum, participant_optimum  # noqa: E402
from shaping_core.params import ParamsError  # noqa: E402

Q_DEFAULTS = {"alpha": [0.3], "beta": [4.0], "kappa": [0.3]}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--alpha", type=float, nargs="+", help="Q-learner values (default 0.3)")
    parser.add_argument("--beta", type=float, nargs="+", help="Q-learner values (default 4)")
    parser.add_argument("--kappa", type=float, nargs="+", help="Q-learner values (default 0.3)")
    parser.add_argument("--family", nargs="+", metavar="NAME",
                        help="solve these bandit zoo families instead of one Q-learner per set")
    parser.add_argument("--participants", type=positive, default=16,
                        help="people drawn per family (with --family)")
    parser.add_argument("--grid", type=positive, default=21, help="points per Q axis (at least 2)")
    parser.add_argument("--episodes", type=positive, default=4096,
                        help="simulated episodes per check (a family's: split among its people)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.grid < 2:
        parser.error(f"--grid must be at least 2, got {args.grid}")
    q_lists = [name for name in Q_DEFAULTS if getattr(args, name) is not None]
    if args.family:
        if q_lists:
            parser.error(f"--family solves the families' own parameters; drop --{', --'.join(q_lists)}")
        for name in args.family:
            try:
                family("bandit", name)
            except ParamsError as error:
                parser.error(str(error))
        return args
    for name, default in Q_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    for alpha, beta, kappa in itertools.product(args.alpha, args.beta, args.kappa):
        try:
            QLearningParams.from_mapping({"alpha": alpha, "beta": beta, "kappa": kappa})
        except ParamsError as error:
            parser.error(str(error))
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    game = make_game("bandit", {})
    config = {"args": vars(args), "game_params": game.params.to_mapping(),
              "environment": {"torch": str(torch.__version__), "python": platform.python_version()}}
    (out / "config.json").write_text(json.dumps(config, indent=2))
    solved = solve_families(game, args) if args.family else solve_q_learners(game, args)
    results, details = [row for row, _ in solved], [detail for _, detail in solved]
    metrics = {"grid": args.grid, "episodes": args.episodes, "results": results, "details": details}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot(results, out / "optimum.png")
    print(json.dumps(results))
    return metrics


def solve_q_learners(game, args) -> list[tuple[dict, dict]]:
    """Per Q-learner parameter set: (the printed row, the full record for metrics.json)."""
    solved = []
    for alpha, beta, kappa in itertools.product(args.alpha, args.beta, args.kappa):
        learner_params = {"alpha": alpha, "beta": beta, "kappa": kappa}
        started = time.perf_counter()
        result = participant_optimum(game, "q_learning", learner_params, grid=args.grid,
                                     episodes=args.episodes, seed=args.seed)
        row = {"learner_params": learner_params, "optimum": round(result.optimum, 4),
               "simulated": round(result.simulated, 4),
               "simulated_std": round(result.simulated_std, 4),
               "random_schedule": round(result.random, 4),
               "seconds": round(time.perf_counter() - started, 1)}
        print(json.dumps(row), flush=True)
        solved.append((row, asdict(result)))
    return solved


def solve_families(game, args) -> list[tuple[dict, dict]]:
    """Per zoo family: (the printed row, the full record, every participant's, for metrics.json)."""
    solved = []
    episodes_each = max(1, args.episodes // args.participants)
    for name in args.family:
        chosen = family("bandit", name)
        started = time.perf_counter()
        result = family_optimum(game, chosen, participants=args.participants, grid=args.grid,
                                episodes_per_participant=episodes_each, seed=args.seed)
        row = {"family": name, "learner": chosen.learner, "learner_params": dict(chosen.params)}
        if result is None:
            row["optimum"], row["note"] = None, "no tabular form"
        else:
            row |= {"participants": args.participants,
                    "optimum": round(result.optimum, 4), "optimum_sem": round(result.optimum_sem, 4),
                    "simulated": round(result.simulated, 4),
                    "simulated_sem": round(result.simulated_sem, 4),
                    "random_schedule": round(result.random, 4),
                    "random_schedule_sem": round(result.random_sem, 4)}
        row["seconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps(row), flush=True)
        solved.append((row, result.to_dict() if result is not None else None))
    return solved


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [row for row in results if row["optimum"] is not None]
    by_family = "family" in results[0]
    if by_family:
        labels = [row["family"] for row in shown]
        spread, spread_label = "simulated_sem", "± s.e.m. over people"
        title = "Bandit: the best target rate against the zoo's families (means over people)"
    else:
        symbols = {"alpha": "α", "beta": "β", "kappa": "κ"}
        labels = [", ".join(f"{symbols[k]} {v:g}" for k, v in row["learner_params"].items())
                  for row in shown]
        spread, spread_label = "simulated_std", "± std of episodes"
        title = "Bandit: the best target rate against a known Q-learner"
    x = range(len(shown))
    fig, ax = plt.subplots(figsize=(max(6, 1.5 * len(shown)), 4.2))
    ax.bar([i - 0.27 for i in x], [r["optimum"] for r in shown], 0.27, label="optimum (DP)")
    ax.bar(x, [r["simulated"] for r in shown], 0.27, yerr=[r[spread] for r in shown],
           label=f"optimal policy, simulated ({spread_label})")
    ax.bar([i + 0.27 for i in x], [r["random_schedule"] for r in shown], 0.27, label="random schedule")
    ax.set_xticks(list(x), labels, rotation=20, ha="right")
    unsolved = [row["family"] for row in results if row["optimum"] is None]
    if unsolved:
        ax.set_xlabel(f"no tabular form: {', '.join(unsolved)}")
    ax.set(ylabel="target-choice rate", ylim=(0.4, 1.0), title=title)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
