"""The surrogate share and the pace rule: what a fitted-Q MAX adversary of the bandit gains against
the human surrogate, and what it costs against the learner zoo late in the game.

    python experiments/pace_sweep.py --surrogate S.pt --out out/pace_sweep \
        [--shares 0.75 0.9] [--pace-lags none 3 6] [--seeds 2] [--jobs 2] [--compare A.pt ...] \
        [fitted-Q flags: --passes ...]

For every (surrogate share, pace lag, seed) one adversary is planned by fitted Q against the
surrogate and the whole zoo (`train-adversary --method fitted-q --population zoo
--surrogate-share S --pace-lag L`; lag `none`: only the game's budget rule). Each is measured

- against the surrogate (counterbalanced): the target rate, and the share of the other option's
  rewards placed in each quarter of the game (the degenerate schedule holds them to the last);
- against every zoo family: the target rate over the game and in its last quarter, and the
  fraction of the achievable gain (optimum.cached_family_optimum), beside the random schedule on
  the same simulated people.

Writes config.json, metrics.json (every number, per seed), pace_sweep.csv (mean ± std over seeds)
and pace_sweep.png (surrogate rate against the zoo's lowest last-quarter rate, one dot per
adversary) to --out; the adversaries go to --out/adversaries/ and are reused by a rerun.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from joblib import Parallel, delayed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shaping_core.adversary_training import METHOD_OPTIONS, method_settings, run_training  # noqa: E402
from shaping_core.algorithms.fitted_q import FittedQSettings  # noqa: E402
from shaping_core.arguments import add_optimum_options, add_settings_options, positive  # noqa: E402
from shaping_core.evaluation import evaluate  # noqa: E402
from shaping_core.games import Objective  # noqa: E402
from shaping_core.learners import zoo_for  # noqa: E402
from shaping_core.optimum import cached_family_optimum  # noqa: E402
from shaping_core.policies import make_policy  # noqa: E402
from shaping_core.policies.checkpoint import load_policy  # noqa: E402
from shaping_core.simulation import play_episodes  # noqa: E402
from shaping_core.surrogate.checkpoint import load_surrogate  # noqa: E402
from shaping_core.surrogate.model import SurrogateParticipant  # noqa: E402
from shaping_core.transfer import BASELINE, EVAL_SEED, TrainingPopulation, fraction_of_gain  # noqa: E402


def lag(text: str) -> int | None:
    if text == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'none', got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a pace lag is at least 0, got {value}")
    return value


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"a surrogate share lies in (0, 1], got {value}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--surrogate", required=True, metavar="S.pt", help="a bandit surrogate")
    parser.add_argument("--out", required=True)
    parser.add_argument("--shares", nargs="+", type=share, default=[0.75, 0.9],
                        help="surrogate shares of the training episodes (default 0.75 0.9)")
    parser.add_argument("--pace-lags", nargs="+", type=lag, default=[None, 3, 6], metavar="LAG",
                        help="pace lags to plan under; 'none' for the budget rule alone (default none 3 6)")
    parser.add_argument("--seeds", type=positive, default=2)
    parser.add_argument("--eval-episodes", type=positive, default=2048,
                        help="simulated people per family and adversary, and surrogate episodes")
    add_optimum_options(parser)
    parser.add_argument("--jobs", type=positive, default=2, help="plans in parallel, one thread each")
    parser.add_argument("--compare", nargs="*", default=[], metavar="A.pt",
                        help="bandit checkpoints measured the same way beside the sweep (e.g. the shipped "
                             "shaping_core/checkpoints/defaults/bandit-max.pt)")
    add_settings_options(parser, FittedQSettings, [n for n in METHOD_OPTIONS["fitted-q"] if n != "pace_lag"],
                         applies_to="every plan")
    return parser.parse_args(argv)


def plan(args: argparse.Namespace, surrogate_share: float, pace_lag: int | None, seed: int) -> str:
    torch.set_num_threads(1)
    out = Path(args.out) / "adversaries" / f"share{surrogate_share:g}-lag{pace_lag}-seed{seed}.pt"
    if out.exists():
        return str(out)
    surrogate = load_surrogate(args.surrogate)
    settings = method_settings("fitted-q", Objective.MAX, seed,
                               {**vars(args), "pace_lag": pace_lag, "eval_episodes": 1024})
    run_training(game=surrogate.game, surrogate=surrogate.net, surrogate_spec=surrogate.spec,
                 surrogate_path=args.surrogate, settings=settings, out=out, device=torch.device("cpu"),
                 log=lambda line: None,
                 population=TrainingPopulation.zoo("bandit", (), surrogate_share))
    return str(out)


def measure(game, adversary, args: argparse.Namespace, surrogate) -> dict[str, Any]:
    """The adversary against the surrogate and every zoo family (figures per trial)."""
    against = evaluate(game, adversary, SurrogateParticipant(game, surrogate), args.eval_episodes, seed=EVAL_SEED)
    other = 1 - game.params.target_option
    result = {"surrogate": {"target_rate": against["target_rate"],
                            "other_rewards_by_quarter": against["placement_by_quarter"][other]},
              "families": {}}
    random = make_policy(BASELINE, game)
    last = slice(game.max_trials * 3 // 4, None)
    for family in zoo_for("bandit"):
        people = family.make(game)
        rates = {}
        for name, policy in (("adversary", adversary), ("random", random)):
            episodes = play_episodes(game, people, policy, args.eval_episodes,
                                     generator=torch.Generator().manual_seed(EVAL_SEED))
            per_trial = episodes.adversary_rewards.float()
            rates[name] = (float(per_trial.mean()), float(per_trial[:, last].mean()))
        solved = cached_family_optimum(game, family, participants=args.optimum_participants, grid=args.grid,
                                       seed=EVAL_SEED)
        result["families"][family.name] = {
            "rate": rates["adversary"][0], "last_quarter_rate": rates["adversary"][1],
            "random": rates["random"][0], "random_last_quarter": rates["random"][1],
            "fraction": fraction_of_gain(rates["adversary"][0], rates["random"][0],
                                         None if solved is None else solved.optimum)}
    return result


def summary(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    surrogate = load_surrogate(args.surrogate)
    game = surrogate.game
    if game.spec.name != "bandit":
        raise SystemExit(f"pace_sweep.py: --surrogate is for {game.spec.name}; this sweep is of the bandit")
    for path in args.compare:
        other = load_policy(path).game
        if other.spec.name != game.spec.name or other.params != game.params:
            raise SystemExit(f"pace_sweep.py: --compare {path} is for the {other.spec.name} with "
                             f"{other.params.to_mapping()}; the surrogate's game is {game.params.to_mapping()}")
    (out / "config.json").write_text(json.dumps(
        {**vars(args), "surrogate_provenance": surrogate.spec.get("provenance", {}), "eval_seed": EVAL_SEED,
         "environment": {"torch": torch.__version__, "python": platform.python_version()}}, indent=2))
    jobs = [(s, g, seed) for s in args.shares for g in args.pace_lags for seed in range(args.seeds)]
    started = time.perf_counter()
    paths = Parallel(n_jobs=args.jobs)(delayed(plan)(args, *job) for job in jobs)
    planning_seconds = time.perf_counter() - started
    results = [{"surrogate_share": s, "pace_lag": g, "seed": seed,
                **measure(game, load_policy(path), args, surrogate.net)}
               for (s, g, seed), path in zip(jobs, paths)]
    compared = [{"checkpoint": path, **measure(game, load_policy(path), args, surrogate.net)}
                for path in args.compare]
    (out / "metrics.json").write_text(json.dumps(
        {"adversaries": results, "compared": compared, "planning_seconds": round(planning_seconds, 1),
         "spread": "std across planning seeds; each seed a mean over --eval-episodes people"}, indent=2))

    # (share or compared checkpoint, pace lag, its adversaries, whether it is a compared checkpoint)
    groups = [(s, "none" if g is None else g,
               [r for r in results if r["surrogate_share"] == s and r["pace_lag"] == g], False)
              for s in args.shares for g in args.pace_lags]
    groups += [(path, "—", [result], True) for path, result in zip(args.compare, compared)]
    rows = []
    for s, g, mine, _ in groups:
        fractions = [[f["fraction"] for f in r["families"].values() if f["fraction"] is not None]
                     for r in mine]
        rows.append({
            "surrogate_share": s, "pace_lag": g,
            "surrogate_target_rate": summary([r["surrogate"]["target_rate"] for r in mine]),
            "other_rewards_last_quarter": summary([r["surrogate"]["other_rewards_by_quarter"][-1] for r in mine]),
            "zoo_lowest_last_quarter_rate": summary([min(f["last_quarter_rate"] for f in r["families"].values())
                                                     for r in mine]),
            "zoo_lowest_fraction": summary([min(f) for f in fractions]),
            "zoo_mean_fraction": summary([statistics.fmean(f) for f in fractions]),
        })
    with open(out / "pace_sweep.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(groups, out / "pace_sweep.png")
    for row in rows:
        print(", ".join(f"{k}: {v}" for k, v in row.items()), flush=True)
    print(json.dumps(rows))
    return 0


def plot(groups: list[tuple[Any, Any, list[dict[str, Any]], bool]], path: Path) -> None:
    """One colour per (share, lag) of the sweep, one dot per seed; compared checkpoints in black."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(figsize=(6, 4.5), layout="constrained")
    for index, (share_or_path, pace_lag, mine, compared) in enumerate(groups):
        axes.scatter([r["surrogate"]["target_rate"] for r in mine],
                     [min(f["last_quarter_rate"] for f in r["families"].values()) for r in mine],
                     color="black" if compared else f"C{index}", marker="x" if compared else "o",
                     label=Path(share_or_path).name if compared else f"share {share_or_path:g}, pace lag {pace_lag}")
    axes.axhline(0.5, color="grey", linestyle=":", label="indifference")
    axes.set_xlabel("target rate against the human surrogate")
    axes.set_ylabel("lowest zoo family's target rate, last quarter")
    axes.set_title("Bandit MAX by fitted Q: surrogate share and pace rule")
    axes.legend(fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
