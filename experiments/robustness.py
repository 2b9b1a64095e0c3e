"""Leave-one-family-out: does a shaping adversary move people of a style it never trained on?

    python experiments/robustness.py --game bandit --surrogate S_A.pt --held-out-surrogate S_B.pt \
        --seeds 3 --out out/robustness_bandit [--jobs 2] [--method ppo|fitted-q] [--surrogate-share 0.5] \
        [--other-surrogates S_A2.pt ... [--training-surrogate-part P]]

For every family of the game's learner zoo (shaping_core/learners/zoo.py) and every seed, a MAX
adversary is trained against the surrogate together with every *other* family
(`train-adversary --population zoo --hold-out FAMILY`) and then plays the held-out family. It is
trained by `--method` (by default the method and options the game records for its max objective,
`Game.default_training`, as train-adversary; else PPO), and every flag of that method's
settings applies (`--iterations`, `--passes`, ...). Beside it:

- **surrogate only**: the same training against the surrogate alone (one adversary per seed), played
  against every family: what training on the human model alone transfers;
- **random**: the game's random schedule against the same simulated participants;
- **optimum**: the best possible adversary for the family, which knows each participant's
  parameters (dynamic programming, shaping_core/algorithms/bandit_dp.py), for families whose state
  is small enough; and the *fraction of achievable gain*, (adversary - random) / (optimum - random).

Every adversary also plays the training surrogate itself (counterbalanced, the same participants
for all), where the bar for the plain MAX lies: what robustness to the held-out family costs there.

With `--held-out-surrogate` (a surrogate fitted on people kept out of the training surrogate's fit:
experiments/split_people.py) every adversary, the surrogate-only ones and an adversary trained on
the surrogate and the whole zoo, also plays those held-out people.

Writes config.json, metrics.json (every number, per seed), robustness.csv (the table) and
robustness.png (per family: random, surrogate only, held out, optimum; each seed a dot) to --out,
and the adversaries under --out/adversaries/ (an adversary already there is reused, so an interrupted
run picks up where it stopped: use a new --out for new settings). Spread: the standard deviation across training seeds;
each seed's figure is a mean over --eval-episodes simulated participants. The last line printed is
JSON: per family, the table row.
"""

from __future__ import annotations

import argparse
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

from shaping_core.adversary_training import (METHOD_OPTIONS, METHOD_SETTINGS, SHARED_OPTIONS,  # noqa: E402
                                             add_method_options, method_settings, misplaced_option,
                                             run_training, with_game_defaults)
from shaping_core.arguments import add_optimum_options  # noqa: E402
from shaping_core.games import Objective, make_game  # noqa: E402
from shaping_core.learners import zoo_for  # noqa: E402
from shaping_core.optimum import cached_family_optimum, solvable  # noqa: E402
from shaping_core.participants import ParticipantParamsError  # noqa: E402
from shaping_core.policies import make_policy  # noqa: E402
from shaping_core.policies.checkpoint import load_policy  # noqa: E402
from shaping_core.surrogate.checkpoint import load_surrogate  # noqa: E402
from shaping_core.surrogate.model import SurrogateParticipant  # noqa: E402
from shaping_core.transfer import (BASELINE, EVAL_SEED, Estimate, TrainingPopulation,  # noqa: E402
                                   fraction_of_gain, rate_per_episode)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--game", required=True, choices=("bandit", "gonogo"))
    parser.add_argument("--surrogate", required=True, metavar="S.pt", help="the training surrogate")
    parser.add_argument("--held-out-surrogate", default=None, metavar="S.pt",
                        help="a surrogate fitted on people kept out of --surrogate's fit")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--families", nargs="+", default=None, help="default: every family of the zoo")
    parser.add_argument("--surrogate-share", type=float, default=None,
                        help="the surrogate's share of the training episodes (default: the game's "
                             f"measured default, else {TrainingPopulation.surrogate_share:g})")
    parser.add_argument("--other-surrogates", nargs="+", default=[], metavar="S.pt",
                        help="further surrogates of --surrogate's people, to share the surrogate's "
                             "episodes in every training against the zoo (TrainingPopulation)")
    parser.add_argument("--training-surrogate-part", type=float, default=None, metavar="P",
                        help="the part of the surrogates' share that --surrogate plays beside "
                             "--other-surrogates (default: an equal part for every surrogate)")
    parser.add_argument("--method", choices=tuple(METHOD_SETTINGS), default=None,
                        help="how each adversary is trained (default: the method and options the game "
                             "records for its max objective, as train-adversary; else ppo)")
    add_method_options(parser)
    parser.add_argument("--eval-episodes", type=int, default=4096,
                        help="simulated participants per family and adversary in the table")
    add_optimum_options(parser)
    parser.add_argument("--jobs", type=int, default=2, help="trainings in parallel, one thread each")
    args = parser.parse_args(argv)
    # Without --method, the game's measured defaults for max fill in what is not given, as in
    # train-adversary (Game.default_training): what ships is what is measured.
    options, _ = with_game_defaults(make_game(args.game), Objective.MAX, {**vars(args), "population": "zoo"})
    args.method = options["method"] or "ppo"
    for name in (*METHOD_OPTIONS[args.method], *SHARED_OPTIONS):
        setattr(args, name, options.get(name))
    args.surrogate_share = (TrainingPopulation.surrogate_share if options["surrogate_share"] is None
                            else options["surrogate_share"])
    if message := misplaced_option(args.method, vars(args)):
        parser.error(message)
    return args


def train_one(args: argparse.Namespace, name: str, seed: int, hold_out: list[str] | None) -> str:
    """One adversary: against the surrogate alone (hold_out None) or the surrogate and the zoo but
    `hold_out`. Returns the checkpoint's path."""
    torch.set_num_threads(1)
    surrogate = load_surrogate(args.surrogate)
    population = (TrainingPopulation.zoo(args.game, hold_out, args.surrogate_share, args.other_surrogates,
                                         args.training_surrogate_part)
                  if hold_out is not None else None)
    # The training's own evaluation is a quick check; the table's figures are evaluated below.
    settings = method_settings(args.method, Objective.MAX, seed, {**vars(args), "eval_episodes": 1024})
    out = Path(args.out) / "adversaries" / f"{name}-seed{seed}.pt"
    if out.exists():  # trained by an earlier, interrupted run with the same --out
        return str(out)
    run_training(game=surrogate.game, surrogate=surrogate.net, surrogate_spec=surrogate.spec,
                 surrogate_path=args.surrogate, settings=settings, out=out, device=torch.device("cpu"),
                 log=lambda line: None, population=population)
    return str(out)


def spread(values: list[float]) -> dict[str, Any]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else None,
            "seeds": values}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    surrogate = load_surrogate(args.surrogate)
    game = surrogate.game
    if game.spec.name != args.game:
        raise SystemExit(f"robustness.py: --surrogate is for {game.spec.name}, not {args.game}")
    try:  # read every other surrogate now, not in the first training that needs it
        TrainingPopulation.zoo(args.game, [], args.surrogate_share, args.other_surrogates,
                               args.training_surrogate_part).other_surrogate_participants(game)
    except ParticipantParamsError as error:
        raise SystemExit(f"robustness.py: {error}") from None
    families = [f for f in zoo_for(args.game) if args.families is None or f.name in args.families]
    seeds = list(range(args.seeds))
    config = {**vars(args), "game_params": game.params.to_mapping(), "families": [f.name for f in families],
              "surrogate_provenance": surrogate.spec.get("provenance", {}),
              "environment": {"torch": torch.__version__, "python": platform.python_version()}}
    (out / "config.json").write_text(json.dumps(config, indent=2))

    started = time.perf_counter()
    jobs = [(f"without-{f.name}", seed, [f.name]) for f in families for seed in seeds]
    jobs += [("surrogate-only", seed, None) for seed in seeds]
    if args.held_out_surrogate:
        jobs += [("whole-zoo", seed, []) for seed in seeds]
    paths = Parallel(n_jobs=args.jobs)(delayed(train_one)(args, *job) for job in jobs)
    training_seconds = time.perf_counter() - started
    adversaries = {(name, seed): load_policy(path) for (name, seed, _), path in zip(jobs, paths)}

    rows, per_family = [], {}
    random = make_policy(BASELINE, game)
    # The bar for the plain MAX lies against the training surrogate itself (docs/loop.md).
    trainer = SurrogateParticipant(game, surrogate.net)

    def rate(policy, participant) -> float:
        """The policy's reward per trial against `participant`, the same people for every policy."""
        return float(rate_per_episode(game, policy, participant, args.eval_episodes, EVAL_SEED).mean())

    def rates(name: str, participant) -> list[float]:
        return [rate(adversaries[(name, seed)], participant) for seed in seeds]

    for family in families:
        participant = family.make(game)
        held_out = rates(f"without-{family.name}", participant)
        surrogate_only = rates("surrogate-only", participant)
        baseline = Estimate.of(rate_per_episode(game, random, participant, args.eval_episodes, EVAL_SEED))
        solved = (cached_family_optimum(game, family, participants=args.optimum_participants, grid=args.grid,
                                        seed=EVAL_SEED) if solvable(game) else None)
        optimum = None if solved is None else {
            "mean": solved.optimum, "sem": solved.optimum_sem, "simulated": solved.simulated,
            "random_on_its_participants": solved.random, "participants": len(solved.participants)}
        optimum_mean = None if optimum is None else optimum["mean"]
        per_family[family.name] = {
            "random": baseline.__dict__, "optimum": optimum,
            "held_out": spread(held_out), "surrogate_only": spread(surrogate_only),
            "held_out_against_surrogate": spread(rates(f"without-{family.name}", trainer)),
            "fraction_held_out": spread([fraction_of_gain(r, baseline.mean, optimum_mean) for r in held_out])
            if optimum is not None else None,
            "fraction_surrogate_only": spread([fraction_of_gain(r, baseline.mean, optimum_mean)
                                               for r in surrogate_only]) if optimum is not None else None,
        }
        rows.append(table_row(family.name, per_family[family.name]))

    held_out_people = None
    if args.held_out_surrogate:
        people = SurrogateParticipant(game, load_surrogate(args.held_out_surrogate).net)
        held_out_people = {"random": rate(random, people),
                           "surrogate_only": spread(rates("surrogate-only", people)),
                           "whole_zoo": spread(rates("whole-zoo", people))}

    against_surrogate = {"random": rate(random, trainer), "surrogate_only": spread(rates("surrogate-only", trainer))}
    metrics = {"families": per_family, "held_out_people": held_out_people, "against_surrogate": against_surrogate,
               "eval_seed": EVAL_SEED,
               "training_seconds": round(training_seconds, 1),
               "spread": "std across training seeds; each seed a mean over --eval-episodes participants"}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    write_table(rows, out / "robustness.csv")
    plot(per_family, game.spec.label, out / "robustness.png")
    for row in rows:
        print(", ".join(f"{k}: {v}" for k, v in row.items()), flush=True)
    print(json.dumps({"families": rows, "held_out_people": held_out_people, "against_surrogate": against_surrogate}))
    return 0


def table_row(name: str, result: dict) -> dict[str, Any]:
    def shown(summary: dict | None) -> str:
        if summary is None:
            return "—"
        std = summary["std"]
        return f"{summary['mean']:.3f}" + ("" if std is None else f" ± {std:.3f}")

    optimum = result["optimum"]
    return {"family": name, "random": f"{result['random']['mean']:.3f}",
            "surrogate_only": shown(result["surrogate_only"]), "held_out": shown(result["held_out"]),
            "optimum": "—" if optimum is None else f"{optimum['mean']:.3f}",
            "fraction_surrogate_only": shown(result["fraction_surrogate_only"]),
            "fraction_held_out": shown(result["fraction_held_out"]),
            "held_out_against_surrogate": shown(result["held_out_against_surrogate"])}


def write_table(rows: list[dict[str, Any]], path: Path) -> None:
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False)


def plot(per_family: dict[str, dict], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(per_family)
    fig, axes = plt.subplots(figsize=(max(6, 1.2 * len(names)), 4), layout="constrained")
    for i, name in enumerate(names):
        result = per_family[name]
        axes.hlines(result["random"]["mean"], i - 0.4, i + 0.4, colors="grey", label="random" if i == 0 else None)
        if result["optimum"] is not None:
            axes.hlines(result["optimum"]["mean"], i - 0.4, i + 0.4, colors="black", linestyles="--",
                        label="optimum" if i == 0 else None)
        for offset, key, color, label in ((-0.15, "surrogate_only", "tab:blue", "trained on the surrogate only"),
                                          (0.15, "held_out", "tab:orange", "trained without this family")):
            values = result[key]["seeds"]
            axes.bar(i + offset, statistics.fmean(values), width=0.28, color=color, alpha=0.5,
                     label=label if i == 0 else None)
            axes.scatter([i + offset] * len(values), values, color=color, s=12, zorder=3)
    axes.set_xticks(range(len(names)), names, rotation=30, ha="right")
    axes.set_ylabel("the adversary's reward per trial")
    axes.set_title(f"{title}: leave-one-family-out (each seed a dot)")
    fig.legend(fontsize=8, loc="outside lower center", ncols=4)  # outside: "best" covered go/no-go's bars
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
