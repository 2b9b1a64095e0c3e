"""Command line: `python -m shaping_core <command> ...`.

    python -m shaping_core ipd-selfplay --algo adalign|naive|lola-exact --seeds N --out DIR
    python -m shaping_core ipd-league --out DIR
    python -m shaping_core simulate --game G --learner NAME --adversary NAME --participants N \
        --seed S --out PATH.csv|PATH.parquet   [--game-params JSON] [--learner-params JSON] ...

Progress goes to stderr-like lines on stdout; the last line printed is always one JSON object
(the run's summary), so scripts can read it with `tail -n 1`. Exit status 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys


def _whole_number(minimum: int):
    """An argparse type: a whole number of at least `minimum`, with a readable error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


_positive, _nonnegative = _whole_number(1), _whole_number(0)


def _json_object(text: str) -> dict:
    """An argparse type: a JSON object (parameters), with a readable error."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"invalid JSON ({error.msg}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shaping_core",
                                     description="Shaping Lab experiments (no Django needed).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", required=True, help="output folder (created if missing)")
    common.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where to train (default: CUDA when available)")
    common.add_argument("--threads", type=_positive, default=1,
                        help="CPU threads for torch (default 1)")
    common.add_argument("--rounds", type=_positive, default=50, help="rounds per training episode")

    selfplay = commands.add_parser("ipd-selfplay", parents=[common],
                                   help="train two learners against each other on the IPD")
    selfplay.add_argument("--algo", required=True, choices=("adalign", "naive", "lola-exact"))
    selfplay.add_argument("--seeds", type=_positive, default=10, help="number of seeds (default 10)")
    selfplay.add_argument("--first-seed", type=_nonnegative, default=0,
                          help="seeds are first-seed, first-seed + 1, ... (default 0)")
    selfplay.add_argument("--iterations", "--steps", dest="iterations", type=_positive, default=None,
                          help="training batches (exact steps for lola-exact)")
    selfplay.add_argument("--batch-size", type=_positive, default=None, help="episodes per batch")
    selfplay.add_argument("--policy", choices=("tabular", "gru"), default="tabular",
                          help="one-step-memory table (default) or a GRU over the history")
    selfplay.add_argument("--beta", type=float, default=None, help="AdAlign's beta")

    league = commands.add_parser("ipd-league", parents=[common],
                                 help="trained algorithms and classic strategies play each other")
    league.add_argument("--seed", type=_nonnegative, default=0, help="training and play seed")
    league.add_argument("--iterations", "--steps", dest="iterations", type=_positive, default=None,
                        help="training batches per algorithm (default: each algorithm's own)")
    league.add_argument("--episodes", type=_positive, default=1024, help="episodes per pairing")
    for algo in ("adalign", "naive", "lola-exact"):
        league.add_argument(f"--{algo}-checkpoint", default=None,
                            help=f"use this checkpoint for {algo} instead of training one")

    simulate = commands.add_parser(
        "simulate", help="a synthetic learner plays an adversary; writes the trials as an export table")
    simulate.add_argument("--game", required=True, help="ipd, bandit, gonogo or trust")
    simulate.add_argument("--game-params", type=_json_object, default={}, metavar="JSON")
    simulate.add_argument("--learner", required=True, help="a synthetic learner (shaping_core/learners)")
    simulate.add_argument("--learner-params", type=_json_object, default={}, metavar="JSON",
                          help="a number or a [low, high] range (drawn per participant) each")
    simulate.add_argument("--adversary", required=True, help="a registered adversary policy")
    simulate.add_argument("--adversary-params", type=_json_object, default={}, metavar="JSON")
    simulate.add_argument("--participants", type=_positive, required=True)
    simulate.add_argument("--seed", type=_nonnegative, required=True)
    simulate.add_argument("--study", default="synthetic", help="the study column (default synthetic)")
    simulate.add_argument("--condition", default="synthetic",
                          help="the condition column (default synthetic)")
    simulate.add_argument("--out", required=True, metavar="PATH",
                          help="PATH.csv or PATH.parquet; the full config goes to PATH.json beside it")
    simulate.set_defaults(subparser=simulate)
    return parser


def _simulate(args: argparse.Namespace) -> dict:
    """The `simulate` command: play, write the table and its config, return the summary."""
    from pathlib import Path

    from .games import make_game
    from .learners import make_learner
    from .learners.datasets import FORMATS, simulate_trials, write_trials
    from .params import ParamsError
    from .policies import make_policy

    fail = args.subparser.error
    out = Path(args.out)
    if out.suffix.lower() not in FORMATS:
        fail(f"--out must end in .csv or .parquet, got {args.out!r}")
    try:
        game = make_game(args.game, args.game_params)
        learner = make_learner(args.learner, game, args.learner_params)
        adversary = make_policy(args.adversary, game, args.adversary_params)
    except ParamsError as error:
        fail(str(error))
    frame = simulate_trials(game, learner, adversary, args.participants, seed=args.seed,
                            study=args.study, condition=args.condition)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_trials(frame, out)
    per_participant = frame.groupby("participant")[["participant_reward", "adversary_reward"]].sum()
    summary = {
        "rows": len(frame),
        "participants": args.participants,
        "mean_participant_points": float(per_participant["participant_reward"].mean()),
        "mean_adversary_points": float(per_participant["adversary_reward"].mean()),
        "path": str(out),
    }
    config = {
        "command": "simulate", "seed": args.seed, "participants": args.participants,
        "game": {"name": args.game, "params": game.params.to_mapping()},
        "learner": {"name": args.learner, "params": learner.params.to_mapping()},
        "adversary": {"name": args.adversary, "params": adversary.params.to_mapping()},
        "study": args.study, "condition": args.condition, "format": FORMATS[out.suffix.lower()],
        "summary": summary,
    }
    config_path = Path(f"{out}.json")
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote {len(frame)} trials of {args.participants} participants to {out} "
          f"(config {config_path})", flush=True)
    return {**summary, "config": str(config_path)}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "simulate":
        print(json.dumps(_simulate(args)), flush=True)
        return 0

    import torch

    from . import ipd_training

    torch.set_num_threads(args.threads)
    try:
        ipd_training.resolve_device(args.device)
    except ValueError as error:
        parser.error(str(error))

    if args.command == "ipd-selfplay":
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        overrides = {}
        if args.iterations is not None:
            overrides["iterations"] = args.iterations
        if args.batch_size is not None:
            overrides["batch_size"] = args.batch_size
        if args.beta is not None:
            if args.algo != "adalign":
                parser.error("--beta only applies to --algo adalign")
            overrides["adalign"] = {"beta": args.beta}
        try:
            config = ipd_training.SelfPlayConfig(algo=args.algo, seeds=seeds, rounds=args.rounds,
                                                 policy=args.policy, device=args.device, **overrides)
        except ValueError as error:
            parser.error(str(error))
        summary = ipd_training.run_selfplay(config, args.out, log=lambda line: print(line, flush=True))
        print(f"total time {summary['total_seconds']:.1f} s", flush=True)
    else:
        checkpoints = {algo: getattr(args, f"{algo.replace('-', '_')}_checkpoint")
                       for algo in ("adalign", "naive", "lola-exact")}
        checkpoints = {k: v for k, v in checkpoints.items() if v}
        summary = ipd_training.run_league(args.out, seed=args.seed, iterations=args.iterations,
                                          rounds=args.rounds, episodes=args.episodes,
                                          device_name=args.device, checkpoints=checkpoints,
                                          log=lambda line: print(line, flush=True))
        print(f"total time {summary['total_seconds']:.1f} s", flush=True)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
