"""The offline half of the loop: trials -> human surrogate -> shaping adversaries -> evaluation.

    # people: the human bandit data of Dezfouli, Nock & Dayan (2020), MAX adversary, 3 seeds
    python experiments/offline_loop.py --game bandit --objectives max --seeds 3 --out out/bandit_human \
        --data ../shared/data/bandit_choice_engineering.csv --data-format bandit-choice-engineering

    # the same adversary planned by fitted Q iteration instead of trained with PPO
    python experiments/offline_loop.py --game bandit --objectives max --method fitted-q --seeds 3 \
        --out out/bandit_human_fq --data ../shared/data/bandit_choice_engineering.csv \
        --data-format bandit-choice-engineering --surrogate out/bandit/surrogate.pt

    # transfer: data simulated from a synthetic learner, which is then also the ground truth
    python experiments/offline_loop.py --game bandit --learner q_learning --participants 400 \
        --objectives max --seeds 3 --out out/bandit_transfer

Steps, each written to --out:

1. **Data.** A trial file (`--data`, any `--data-format` of shaping_core.data), or `--participants`
   synthetic `--learner`s simulated against the game's random baseline adversary (data.parquet).
2. **Surrogate.** `fit_surrogate` with k-fold CV over participants (surrogate.pt, surrogate/).
3. **Adversaries.** For each objective and seed, `run_training` against the surrogate, by PPO or
   (`--method fitted-q`, max only) fitted Q iteration (adversaries/<objective>-seed<k>.pt and its
   folder: config, metrics, learning curve).
4. **Evaluation.** Every adversary and the random baseline play `--eval-episodes` episodes against
   the surrogate and, with synthetic data, against the true learner (the transfer test).

metrics.json holds every figure; results.png shows the game's measure per objective (each seed a
dot, the mean a bar) against the surrogate and the true learner, with the baseline. The last line
printed is JSON: per objective, the mean, std and per-seed values of the game's measures.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shaping_core.adversary_training import (  # noqa: E402
    add_method_options, method_settings, misplaced_option, run_training)
from shaping_core.algorithms.fitted_q import check_game  # noqa: E402
from shaping_core.data import DATA_FORMATS, DataFormatError, load_sequences  # noqa: E402
from shaping_core.data.schema import write_trials  # noqa: E402
from shaping_core.devices import resolve_device  # noqa: E402
from shaping_core.evaluation import evaluate  # noqa: E402
from shaping_core.games import GAMES, make_game  # noqa: E402
from shaping_core.learners import make_learner  # noqa: E402
from shaping_core.learners.datasets import simulate_trials  # noqa: E402
from shaping_core.params import ParamsError  # noqa: E402
from shaping_core.policies import make_policy  # noqa: E402
from shaping_core.policies.checkpoint import load_policy  # noqa: E402
from shaping_core.surrogate.checkpoint import load_surrogate, save_surrogate  # noqa: E402
from shaping_core.surrogate.fit import (  # noqa: E402
    SurrogateSettings, fit_surrogate, format_cv_table, write_fit_report)
from shaping_core.surrogate.model import SurrogateParticipant  # noqa: E402

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--game", required=True, choices=tuple(GAMES))
    data = parser.add_argument_group("data: a trial file, or simulated synthetic learners")
    data.add_argument("--data", default=None, help="a trial file (CSV or Parquet)")
    data.add_argument("--data-format", choices=DATA_FORMATS, default="platform")
    data.add_argument("--learner", default=None, help="a synthetic learner (shaping_core/learners)")
    data.add_argument("--learner-params", type=json.loads, default={}, metavar="JSON")
    data.add_argument("--participants", type=int, default=400, help="simulated participants")
    data.add_argument("--surrogate", default=None, metavar="S.pt",
                      help="reuse this surrogate (fitted on --data) instead of fitting one")
    parser.add_argument("--objectives", nargs="+", default=None,
                        help="default: every objective of the game")
    parser.add_argument("--seeds", type=int, default=3, help="adversary seeds 0..N-1 (default 3)")
    parser.add_argument("--data-seed", type=int, default=1000, help="seeds the simulation and CV")
    surrogate = parser.add_argument_group("surrogate")
    surrogate.add_argument("--hidden-sizes", type=int, nargs="+", default=[4, 8, 16, 32])
    surrogate.add_argument("--folds", type=int, default=5)
    surrogate.add_argument("--max-epochs", type=int, default=150)
    surrogate.add_argument("--patience", type=int, default=25)
    surrogate.add_argument("--no-mirror-options", action="store_true",
                           help="bandit: do not also train on the sequences' mirror images")
    adversary = parser.add_argument_group("adversary (defaults: AdversarySettings, FittedQSettings)")
    adversary.add_argument("--method", choices=("ppo", "fitted-q"), default="ppo")
    add_method_options(adversary)
    parser.add_argument("--eval-episodes", type=int, default=4096)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if (args.data is None) == (args.learner is None):
        parser.error("give either --data (a trial file) or --learner (simulated participants)")
    game = GAMES[args.game]
    args.objectives = args.objectives or list(game.spec.objectives)
    for objective in args.objectives:
        if objective not in game.spec.objectives:
            parser.error(f"{game.spec.label} has no {objective} objective; it has "
                         f"{', '.join(game.spec.objectives)}")
    for name in ("seeds", "participants", "folds", "max_epochs", "patience", "eval_episodes",
                 "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if message := misplaced_option(args.method, vars(args)):
        parser.error(message)
    if args.method == "fitted-q":
        if args.objectives != ["max"]:
            parser.error("--method fitted-q trains the max objective only: pass --objectives max")
        try:
            check_game(game)
        except ValueError as error:
            parser.error(str(error))
    try:
        args.game_obj = make_game(args.game)
        args.learner_obj = (make_learner(args.learner, args.game_obj, args.learner_params)
                            if args.learner else None)
        args.settings = SurrogateSettings(hidden_sizes=args.hidden_sizes, folds=args.folds,
                                          max_epochs=args.max_epochs, patience=args.patience,
                                          seed=args.data_seed, device=args.device,
                                          mirror_options=not args.no_mirror_options)
    except (ParamsError, ValueError) as error:
        parser.error(str(error))
    return args


def load_data(args: argparse.Namespace, out: Path):
    """The trial sequences the surrogate is fitted on: the file, or a simulation written to
    data.parquet (so that it can be inspected and refitted like a real export)."""
    game = args.game_obj
    path, data_format = args.data, args.data_format
    if args.learner_obj is not None:
        baseline_name, baseline_params = game.baseline_adversary
        frame = simulate_trials(game, args.learner_obj, make_policy(baseline_name, game, baseline_params),
                                args.participants, seed=args.data_seed)
        path, data_format = out / "data.parquet", "platform"
        write_trials(frame, path)
    try:
        return load_sequences(path, data_format, game=game)
    except (DataFormatError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")


def measure_keys(game) -> tuple[str, ...]:
    """The figures reported: the rate the adversary is after, or, where both sides earn, both
    sides' points and the gap between them."""
    if game.spec.headline_rate is not None:
        return (game.spec.headline_rate[0],)
    return ("adversary_return", "participant_return", "earnings_gap")


def measures(game, summary: dict[str, float]) -> dict[str, float]:
    return {key: summary[key] for key in measure_keys(game)}


def spread(values: list[float]) -> dict[str, Any]:
    return {"mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0, "seeds": values}


def run(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    game = args.game_obj
    started = time.perf_counter()
    config = {"argv": sys.argv[1:], "game": game.spec.name, "game_params": game.params.to_mapping(),
              "data": args.data, "data_format": args.data_format, "learner": args.learner,
              "learner_params": args.learner_obj.params.to_mapping() if args.learner_obj else None,
              "participants": args.participants if args.learner else None,
              "data_seed": args.data_seed, "objectives": args.objectives, "method": args.method,
              "seeds": list(range(args.seeds)), "surrogate_settings": args.settings.to_mapping(),
              "eval_episodes": args.eval_episodes,
              "environment": {"torch": torch.__version__, "python": platform.python_version(),
                              "device": str(device), "threads": args.threads}}
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    sequences = load_data(args, out)
    print(f"{sequences.n_sequences} participants, {sequences.n_choices} choices", flush=True)
    if args.surrogate:
        loaded = load_surrogate(args.surrogate)
        if loaded.spec["provenance"].get("sha256") != sequences.provenance["sha256"]:
            sys.exit(f"error: {args.surrogate} was not fitted on {args.data}")
        surrogate_path, net, fit_metrics = Path(args.surrogate), loaded.net, loaded.spec["metrics"]
        fit_summary = {"hidden_size": loaded.spec["hidden_size"],
                       "epochs": loaded.spec["selection"]["epochs"]}
    else:
        fit = fit_surrogate(sequences, args.settings)
        surrogate_path, net, fit_metrics = out / "surrogate.pt", fit.net, fit.metrics
        save_surrogate(surrogate_path, net, game, provenance=sequences.provenance,
                       selection=fit.selection, metrics=fit_metrics,
                       settings=args.settings.to_mapping())
        write_fit_report(out / "surrogate", fit, {"data": sequences.provenance,
                                                  "settings": args.settings.to_mapping()})
        print(format_cv_table(fit), flush=True)
        fit_summary = {"hidden_size": fit.hidden_size, "epochs": fit.epochs}
    surrogate = SurrogateParticipant(game, net)
    opponents = {"surrogate": surrogate}
    if args.learner_obj is not None:
        opponents[f"learner:{args.learner}"] = args.learner_obj

    def evaluated(policy) -> dict[str, dict[str, float]]:
        return {name: evaluate(game, policy, opponent, args.eval_episodes, seed=args.data_seed + 1)
                for name, opponent in opponents.items()}

    baseline_name, baseline_params = game.baseline_adversary
    results: dict[str, Any] = {"baseline": {"name": baseline_name,
                                            **evaluated(make_policy(baseline_name, game, baseline_params))}}
    for objective in args.objectives:
        runs = []
        for seed in range(args.seeds):
            settings = method_settings(args.method, objective, seed, vars(args))
            path = out / "adversaries" / f"{objective}-seed{seed}.pt"
            trained = run_training(game=game, surrogate=net,
                                   surrogate_spec={"provenance": sequences.provenance,
                                                   "metrics": fit_metrics},
                                   surrogate_path=str(surrogate_path), settings=settings, out=path,
                                   device=device, log=lambda line: print(line, flush=True))
            runs.append({"seed": seed, "checkpoint": str(path),
                         "training_seconds": trained["training_seconds"],
                         **evaluated(load_policy(path))})
        results[objective] = runs

    summary = {"game": game.spec.name, "method": args.method, "surrogate_fit": {
        "path": str(surrogate_path), **fit_summary,
        **{key: fit_metrics[key] for key in ("nll_per_choice", "nll_per_choice_std",
                                             "baseline_nll_per_choice", "accuracy")}}}
    for opponent in opponents:
        summary[opponent] = {"baseline": measures(game, results["baseline"][opponent])}
        for objective in args.objectives:
            per_seed = [measures(game, run[opponent]) for run in results[objective]]
            summary[opponent][objective] = {key: spread([m[key] for m in per_seed])
                                            for key in measure_keys(game)}
    summary["seconds"] = round(time.perf_counter() - started, 1)
    (out / "metrics.json").write_text(json.dumps({"summary": summary, "runs": results,
                                                  "surrogate": fit_metrics}, indent=2) + "\n")
    plot(summary, list(opponents), args.objectives, out / "results.png")
    return summary


def plot(summary: dict[str, Any], opponents: list[str], objectives: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    game = summary["game"]
    keys = measure_keys(make_game(game))
    fig, axes = plt.subplots(len(keys), len(opponents), figsize=(4.5 * len(opponents), 3.4 * len(keys)),
                             squeeze=False)
    for row, key in enumerate(keys):
        for column, opponent in enumerate(opponents):
            ax = axes[row][column]
            names = ["random"] + objectives
            values = [[summary[opponent]["baseline"][key]]] + [
                summary[opponent][objective][key]["seeds"] for objective in objectives]
            ax.bar(range(len(names)), [statistics.fmean(v) for v in values], color="lightgrey")
            for x, seeds in enumerate(values):
                ax.plot([x] * len(seeds), seeds, "o", color="black", markersize=4)
            ax.set_xticks(range(len(names)), names)
            ax.set_title(f"{game} vs {opponent}", fontsize=9)
            ax.set_ylabel(key.replace("_", " "))
    fig.suptitle("trained adversaries (each seed a dot, bar = mean) and the random baseline")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    summary = run(parse_args(argv))
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
