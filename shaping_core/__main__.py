"""Command line: `python -m shaping_core <command> ...`.

    python -m shaping_core ipd-selfplay --algo adalign|naive|lola-exact --seeds N --out DIR
    python -m shaping_core ipd-league --out DIR

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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

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
