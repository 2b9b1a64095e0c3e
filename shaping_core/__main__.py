"""Command line: `python -m shaping_core <command> ...`.

    python -m shaping_core ipd-selfplay --algo adalign|naive|lola-exact --seeds N --out DIR
    python -m shaping_core ipd-league --out DIR
    python -m shaping_core simulate --game G --learner NAME --adversary NAME --participants N \
        --seed S --out PATH.csv|PATH.parquet   [--game-params JSON] [--learner-params JSON] ...
    python -m shaping_core fit-surrogate --game G --data PATH [--data-format F] --out S.pt
    python -m shaping_core evaluate-surrogate --model S.pt --data PATH [--data-format F]
    python -m shaping_core train-adversary --game G --surrogate S.pt --objective max|fair|adalign \
        --out A.pt [--method ppo|fitted-q] [--population surrogate|zoo [--hold-out FAMILY]...
        [--other-surrogate S2.pt]... [--training-surrogate-part P]]
    python -m shaping_core evaluate-adversary --adversary A.pt|NAME \
        --against surrogate:S.pt|learner:NAME|zoo [--episodes N]

Progress goes to stderr-like lines on stdout; the last line printed is always one JSON object
(the run's summary), so scripts can read it with `tail -n 1`. Exit status 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# Idle OpenMP workers sleep instead of spinning: on a shared machine spinning workers took the cores
# from the thread doing the work and made 2-thread runs 5-10x slower (experiments/bench_rollout.py).
# It must be set before torch is imported; a value set by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .arguments import json_object, nonnegative, positive, positive_list, whole_number  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shaping_core",
                                     description="Shaping Lab experiments (no Django needed).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", required=True, help="output folder (created if missing)")
    common.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where to train (default: CUDA when available)")
    common.add_argument("--threads", type=positive, default=1,
                        help="CPU threads for torch (default 1)")
    common.add_argument("--rounds", type=positive, default=50, help="rounds per training episode")

    selfplay = commands.add_parser("ipd-selfplay", parents=[common],
                                   help="train two learners against each other on the IPD")
    selfplay.add_argument("--algo", required=True, choices=("adalign", "naive", "lola-exact"))
    selfplay.add_argument("--seeds", type=positive, default=10, help="number of seeds (default 10)")
    selfplay.add_argument("--first-seed", type=nonnegative, default=0,
                          help="seeds are first-seed, first-seed + 1, ... (default 0)")
    selfplay.add_argument("--iterations", "--steps", dest="iterations", type=positive, default=None,
                          help="training batches (exact steps for lola-exact)")
    selfplay.add_argument("--batch-size", type=positive, default=None, help="episodes per batch")
    selfplay.add_argument("--policy", choices=("tabular", "gru"), default="tabular",
                          help="one-step-memory table (default) or a GRU over the history")
    selfplay.add_argument("--beta", type=float, default=None, help="AdAlign's beta")

    league = commands.add_parser("ipd-league", parents=[common],
                                 help="trained algorithms and classic strategies play each other")
    league.add_argument("--seed", type=nonnegative, default=0, help="training and play seed")
    league.add_argument("--iterations", "--steps", dest="iterations", type=positive, default=None,
                        help="training batches per algorithm (default: each algorithm's own)")
    league.add_argument("--episodes", type=positive, default=1024, help="episodes per pairing")
    for algo in ("adalign", "naive", "lola-exact"):
        league.add_argument(f"--{algo}-checkpoint", default=None,
                            help=f"use this checkpoint for {algo} instead of training one")

    simulate = commands.add_parser(
        "simulate", help="a synthetic learner plays an adversary; writes the trials as an export table")
    simulate.add_argument("--game", required=True, help="ipd, bandit, gonogo or trust")
    simulate.add_argument("--game-params", type=json_object, default={}, metavar="JSON")
    simulate.add_argument("--learner", required=True, help="a synthetic learner (shaping_core/learners)")
    simulate.add_argument("--learner-params", type=json_object, default={}, metavar="JSON",
                          help="a number or a [low, high] range (drawn per participant) each")
    simulate.add_argument("--adversary", required=True, help="a registered adversary policy")
    simulate.add_argument("--adversary-params", type=json_object, default={}, metavar="JSON")
    simulate.add_argument("--participants", type=positive, required=True)
    simulate.add_argument("--seed", type=nonnegative, required=True)
    simulate.add_argument("--study", default="synthetic", help="the study column (default synthetic)")
    simulate.add_argument("--condition", default="synthetic",
                          help="the condition column (default synthetic)")
    simulate.add_argument("--out", required=True, metavar="PATH",
                          help="PATH.csv or PATH.parquet; the full config goes to PATH.json beside it")
    simulate.set_defaults(subparser=simulate)

    fit = commands.add_parser("fit-surrogate", help="fit the human surrogate (GRU) with k-fold CV")
    fit.add_argument("--game", required=True, help="ipd, bandit, gonogo or trust")
    fit.add_argument("--game-params", type=json_object, default={}, metavar="JSON")
    _data_arguments(fit)
    fit.add_argument("--out", required=True, metavar="S.pt",
                     help="the checkpoint; config.json, metrics.json and cv.png go to S/ beside it")
    fit.add_argument("--hidden-sizes", type=positive_list, default=(4, 8, 16, 32), metavar="H,H,...",
                     help="GRU sizes compared by cross-validation (default 4,8,16,32)")
    fit.add_argument("--folds", type=whole_number(2), default=5, help="k of k-fold CV (default 5)")
    fit.add_argument("--max-epochs", type=positive, default=150, help="default 150")
    fit.add_argument("--patience", type=positive, default=25,
                     help="stop a size after this many epochs without improvement (default 25)")
    fit.add_argument("--batch-size", type=positive, default=32,
                     help="sequences per minibatch (default 32; the 26,026 human IPD games: 256)")
    fit.add_argument("--context-noise", type=float, default=0.0,
                     help="std of the noise added to the participant context in training (default 0; "
                          "docs/asymmetry.md)")
    fit.add_argument("--seed", type=nonnegative, default=0)
    fit.add_argument("--anneal-lr", action="store_true",
                     help="decay the step size linearly to 0 over --max-epochs (CV and refit alike), "
                          "so the chosen weights are settled rather than a noisy last minibatch step")
    fit.add_argument("--no-mirror-options", action="store_true",
                     help="bandit: train on the sequences as recorded only, not also on their mirror "
                          "images with the options swapped (see shaping_core/surrogate/fit.py)")
    fit.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    fit.add_argument("--threads", type=positive, default=2, help="CPU threads for torch (default 2)")
    fit.set_defaults(subparser=fit)

    evaluate = commands.add_parser("evaluate-surrogate", help="a fitted surrogate's NLL on trials")
    evaluate.add_argument("--model", required=True, metavar="S.pt")
    _data_arguments(evaluate)
    evaluate.set_defaults(subparser=evaluate)

    train = commands.add_parser("train-adversary", help="train a shaping adversary against a surrogate")
    train.add_argument("--game", required=True, help="the surrogate's game (checked)")
    train.add_argument("--surrogate", required=True, metavar="S.pt")
    train.add_argument("--objective", required=True, choices=("max", "fair", "adalign"))
    train.add_argument("--out", required=True, metavar="A.pt",
                       help="the checkpoint; config.json, metrics.json and learning_curve.png go "
                            "to A/ beside it")
    train.add_argument("--method", choices=("ppo", "fitted-q"), default=None,
                       help="ppo: a GRU policy trained with PPO (every objective, every game); "
                            "fitted-q: per-trial Q-functions fitted by backward induction through "
                            "the surrogate (max objective, bandit and go/no-go). Default: the method "
                            "and options measured best for the game and objective (the bandit's and "
                            "go/no-go's max: fitted-q, docs/loop.md), filling in any option not given; "
                            "ppo where none is recorded. A --method given trains with its own defaults")
    train.add_argument("--population", choices=("surrogate", "zoo"), default=None,
                       help="who the adversary trains against: surrogate (the default where the game "
                            "records none), or zoo: the surrogate on --surrogate-share of the episodes "
                            "and the game's learner-zoo families (shaping_core/learners/zoo.py) on the rest")
    train.add_argument("--hold-out", action="append", default=[], metavar="FAMILY",
                       help="a zoo family to leave out of --population zoo (repeatable), to measure "
                            "transfer to it")
    train.add_argument("--surrogate-share", type=float, default=None,
                       help="the surrogate's share of the episodes with --population zoo (default 0.5)")
    train.add_argument("--other-surrogate", action="append", default=[], metavar="S.pt", dest="other_surrogates",
                       help="another surrogate of the same people (another seed, a half, a bootstrap) "
                            "to share the surrogate's episodes with --population zoo (repeatable); "
                            "the adversary still reads the person with --surrogate")
    train.add_argument("--training-surrogate-part", type=float, default=None, metavar="P",
                       help="the part of the surrogates' share that --surrogate plays beside "
                            "--other-surrogate; the others split the rest equally (default: an equal "
                            "part for every surrogate)")
    from .adversary_training import add_method_options  # the settings' fields make the flags

    add_method_options(train)
    train.add_argument("--eval-episodes", type=positive, default=None)
    train.add_argument("--seed", type=nonnegative, default=0)
    train.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    train.add_argument("--threads", type=positive, default=2, help="CPU threads for torch (default 2)")
    train.set_defaults(subparser=train)

    versus = commands.add_parser("evaluate-adversary",
                                 help="play an adversary against a surrogate or a synthetic learner")
    versus.add_argument("--adversary", required=True, metavar="A.pt|NAME",
                        help="a policy checkpoint, or a classic adversary's name (e.g. random_schedule)")
    versus.add_argument("--adversary-params", type=json_object, default={}, metavar="JSON",
                        help="a classic adversary's parameters")
    versus.add_argument("--against", required=True, metavar="surrogate:S.pt|learner:NAME|zoo",
                        help="zoo: every family of the game's learner zoo, one line each, beside the "
                             "random schedule and the best possible adversary where it is computed")
    versus.add_argument("--learner-params", type=json_object, default={}, metavar="JSON")
    versus.add_argument("--game", default=None,
                        help="needed only when neither side is a checkpoint")
    versus.add_argument("--game-params", type=json_object, default={}, metavar="JSON")
    versus.add_argument("--episodes", type=positive, default=4096, help="default 4096")
    versus.add_argument("--optimum-participants", type=nonnegative, default=16,
                        help="--against zoo: simulated people per family whose best possible adversary "
                             "is solved (default 16; minutes a family the first time, then read from "
                             "the cache, shaping_core/optimum.py); 0: no optimum, no fraction")
    versus.add_argument("--no-counterbalance", action="store_true",
                        help="bandit: play the surrogate itself in every episode, not half the "
                             "episodes its mirror image (see SurrogateParticipant)")
    versus.add_argument("--seed", type=nonnegative, default=0)
    versus.set_defaults(subparser=versus)
    return parser


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    from .data import DATA_FORMATS

    parser.add_argument("--data", required=True, metavar="PATH", help="a trial file (CSV or Parquet)")
    parser.add_argument("--data-format", choices=DATA_FORMATS, default="platform",
                        help="platform (the export, default), bandit-choice-engineering, "
                             "gonogo-self-regulation or ipd-human-games")


def _simulate(args: argparse.Namespace) -> dict:
    """The `simulate` command: play, write the table and its config, return the summary."""
    from pathlib import Path

    from .games import make_game
    from .learners import make_learner
    from .data.schema import SUFFIXES, write_trials
    from .learners.datasets import simulate_trials
    from .params import ParamsError
    from .policies import make_policy

    fail = args.subparser.error
    out = Path(args.out)
    if out.suffix.lower() not in SUFFIXES:
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
        "study": args.study, "condition": args.condition, "format": SUFFIXES[out.suffix.lower()],
        "summary": summary,
    }
    config_path = Path(f"{out}.json")
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote {len(frame)} trials of {args.participants} participants to {out} "
          f"(config {config_path})", flush=True)
    return {**summary, "config": str(config_path)}


def _load_sequences_or_fail(args: argparse.Namespace, game):
    from .data import DataFormatError, load_sequences

    try:
        return load_sequences(args.data, args.data_format, game=game)
    except (DataFormatError, FileNotFoundError) as error:
        args.subparser.error(str(error))


def _fit_surrogate(args: argparse.Namespace) -> dict:
    """The `fit-surrogate` command: CV, refit, checkpoint and report; returns held-out metrics."""
    from pathlib import Path

    from .games import make_game
    from .params import ParamsError
    from .surrogate.checkpoint import save_surrogate
    from .surrogate.fit import SurrogateSettings, fit_surrogate, format_cv_table, write_fit_report

    fail = args.subparser.error
    try:
        game = make_game(args.game, args.game_params)
        settings = SurrogateSettings(hidden_sizes=args.hidden_sizes, folds=args.folds,
                                     max_epochs=args.max_epochs, patience=args.patience,
                                     batch_size=args.batch_size, context_noise=args.context_noise,
                                     seed=args.seed, device=args.device, anneal_lr=args.anneal_lr,
                                     mirror_options=not args.no_mirror_options)
    except (ParamsError, ValueError) as error:
        fail(str(error))
    sequences = _load_sequences_or_fail(args, game)
    if sequences.n_sequences < settings.folds:
        fail(f"{args.data}: {sequences.n_sequences} participants, too few for {settings.folds}-fold CV")
    print(f"{sequences.n_sequences} participants, {sequences.n_choices} choices from {args.data}",
          flush=True)
    result = fit_surrogate(sequences, settings)
    out = Path(args.out)
    save_surrogate(out, result.net, game, provenance=sequences.provenance,
                   selection=result.selection, metrics=result.metrics,
                   settings=settings.to_mapping())
    config = {"command": "fit-surrogate", "game": {"name": game.spec.name,
                                                   "params": game.params.to_mapping()},
              "data": sequences.provenance, "settings": settings.to_mapping(), "out": str(out)}
    report = write_fit_report(out.with_suffix(""), result, config)
    print(format_cv_table(result), flush=True)
    held_out = result.metrics
    return {"nll_per_choice": held_out["nll_per_choice"],
            "nll_per_choice_std": held_out["nll_per_choice_std"], "accuracy": held_out["accuracy"],
            "choices": held_out["choices"], "baseline_nll_per_choice": held_out["baseline_nll_per_choice"],
            "hidden_size": result.hidden_size, "epochs": result.epochs, "folds": settings.folds,
            "seconds": {k: round(v, 1) for k, v in result.seconds.items()}, "out": str(out),
            "report": report}


def _evaluate_surrogate(args: argparse.Namespace) -> dict:
    from .surrogate.checkpoint import SurrogateCheckpointError, load_surrogate
    from .surrogate.fit import evaluate_surrogate

    try:
        surrogate = load_surrogate(args.model)
    except SurrogateCheckpointError as error:
        args.subparser.error(str(error))
    sequences = _load_sequences_or_fail(args, surrogate.game)
    return {**evaluate_surrogate(surrogate.net, sequences), "model": args.model, "data": args.data}


def _train_adversary(args: argparse.Namespace) -> dict:
    from .adversary_training import (ADALIGN_OPTIONS, method_settings, misplaced_option, run_training,
                                     with_game_defaults)
    from .algorithms.fitted_q import check_game
    from .params import ParamsError
    from .transfer import TrainingPopulation
    from .surrogate.checkpoint import SurrogateCheckpointError, load_surrogate
    from .devices import resolve_device

    fail = args.subparser.error
    try:
        device = resolve_device(args.device)
        surrogate = load_surrogate(args.surrogate, device)
    except (SurrogateCheckpointError, ValueError) as error:
        fail(str(error))
    game = surrogate.game
    if args.game != game.spec.name:
        fail(f"--game {args.game} but {args.surrogate} was fitted for {game.spec.name}")
    if args.objective not in game.spec.objectives:
        fail(f"{game.spec.label} has no {args.objective} objective; it has "
             f"{', '.join(game.spec.objectives)}")
    for name in ADALIGN_OPTIONS:
        if getattr(args, name) is not None and args.objective != "adalign":
            fail(f"--{name.replace('_', '-')} only applies to --objective adalign")
    options, defaults = with_game_defaults(game, args.objective, vars(args))
    method, population_name = options["method"] or "ppo", options["population"] or "surrogate"
    if defaults:
        print(f"{game.spec.label}, {args.objective}: the measured defaults "
              + " ".join(f"--{name.replace('_', '-')} {value}" for name, value in defaults.items()), flush=True)
    if message := misplaced_option(method, options):
        fail(message + (f" (the {game.spec.name} {args.objective} default; give --method to train "
                        f"another way)" if "method" in defaults else ""))
    if method == "fitted-q":
        if args.objective != "max":
            fail(f"--method fitted-q trains the max objective only, not {args.objective}")
        try:
            check_game(game)
        except ValueError:
            fail(f"--method fitted-q needs a game where the adversary moves first (bandit, "
                 f"gonogo), not {game.spec.name}")
    population = None
    if population_name == "zoo":
        try:
            share = {} if options["surrogate_share"] is None else {"surrogate_share": options["surrogate_share"]}
            population = TrainingPopulation.zoo(game.spec.name, args.hold_out, **share,
                                                other_surrogates=args.other_surrogates,
                                                training_surrogate_part=args.training_surrogate_part)
            population.other_surrogate_participants(game)  # a bad file stops here, before any training
        except ParamsError as error:
            fail(str(error))
    elif (args.hold_out or options["surrogate_share"] is not None or args.other_surrogates
          or args.training_surrogate_part is not None):
        fail("--hold-out, --surrogate-share, --other-surrogate and --training-surrogate-part apply to "
             "--population zoo")
    try:
        settings = method_settings(method, args.objective, args.seed, options)
    except ValueError as error:
        fail(str(error))
    return run_training(game=game, surrogate=surrogate.net, surrogate_spec=surrogate.spec,
                        surrogate_path=args.surrogate, settings=settings, out=args.out,
                        device=device, log=lambda line: print(line, flush=True), population=population)


def _evaluate_adversary(args: argparse.Namespace) -> dict:
    """The `evaluate-adversary` command. The game comes from the checkpoint(s) on either side, or
    from --game; both sides must agree on it, parameters included."""
    from pathlib import Path

    from .evaluation import evaluate
    from .games import make_game
    from .learners import make_learner, zoo_for
    from .params import ParamsError
    from .policies import make_policy
    from .policies.checkpoint import load_policy
    from .surrogate.checkpoint import SurrogateCheckpointError, load_surrogate
    from .surrogate.model import SurrogateParticipant

    fail = args.subparser.error
    kind, _, target = args.against.partition(":")
    if not (kind in ("surrogate", "learner") and target or args.against == "zoo"):
        fail(f"--against must be surrogate:PATH, learner:NAME or zoo, got {args.against!r}")
    try:
        games = []
        adversary = None
        if Path(args.adversary).suffix == ".pt" or Path(args.adversary).is_file():
            if args.adversary_params:
                fail("--adversary-params applies to a classic adversary, not a checkpoint")
            adversary = load_policy(args.adversary)
            games.append(("--adversary", adversary.game))
        surrogate = load_surrogate(target) if kind == "surrogate" else None
        if surrogate is not None:
            games.append(("--against", surrogate.game))
        if args.game is not None:
            games.append(("--game", make_game(args.game, args.game_params)))
        if not games:
            fail("name the game with --game: neither side is a checkpoint")
        game = games[0][1]
        for flag, other in games[1:]:
            if (other.spec.name, other.params) != (game.spec.name, game.params):
                fail(f"{games[0][0]} is for {game.spec.name} {game.params.to_mapping()} but "
                     f"{flag} is for {other.spec.name} {other.params.to_mapping()}")
        if adversary is None:
            adversary = make_policy(args.adversary, game, args.adversary_params)
        if args.no_counterbalance and surrogate is None:
            fail("--no-counterbalance applies to --against surrogate:PATH")
        if kind == "zoo":
            if args.learner_params:
                fail("--learner-params applies to --against learner:NAME; each zoo family has its own")
            zoo_for(game.spec.name)  # a clear error for a game without a zoo
            return _evaluate_against_zoo(args, game, adversary)
        participant = (SurrogateParticipant(game, surrogate.net, counterbalance=False if args.no_counterbalance else None)
                       if surrogate is not None else make_learner(target, game, args.learner_params))
    except (ParamsError, SurrogateCheckpointError, FileNotFoundError) as error:
        fail(str(error))
    summary = evaluate(game, adversary, participant, args.episodes, seed=args.seed)
    counterbalanced = {"counterbalanced": participant.counterbalance} if surrogate is not None else {}
    return {**summary, **counterbalanced, "game": game.spec.name, "adversary": args.adversary,
            "against": args.against, "seed": args.seed}


def _evaluate_against_zoo(args: argparse.Namespace, game, adversary) -> dict:
    """`evaluate-adversary --against zoo`: a table per family on stdout, the same as JSON last."""
    from .optimum import cached_family_optimum, solvable
    from .transfer import EVAL_SEED, Estimate, evaluate_against_zoo, format_table

    def optimum_of(game, family) -> Estimate | None:
        solved = cached_family_optimum(game, family, participants=args.optimum_participants, seed=EVAL_SEED)
        return None if solved is None else Estimate(solved.optimum, solved.optimum_sem)

    wanted = args.optimum_participants > 0 and solvable(game)
    results = evaluate_against_zoo(game, adversary, episodes=args.episodes, seed=args.seed,
                                   optimum_of=optimum_of if wanted else None)
    print(format_table(results), flush=True)
    return {"game": game.spec.name, "adversary": args.adversary, "against": "zoo", "seed": args.seed,
            "episodes": args.episodes, "families": [row.to_dict() for row in results]}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    loop_commands = {"simulate": _simulate, "fit-surrogate": _fit_surrogate,
                     "evaluate-surrogate": _evaluate_surrogate, "train-adversary": _train_adversary,
                     "evaluate-adversary": _evaluate_adversary}
    if args.command in loop_commands:
        if hasattr(args, "threads"):
            import torch

            torch.set_num_threads(args.threads)
        print(json.dumps(loop_commands[args.command](args)), flush=True)
        return 0

    import torch

    from . import ipd_training
    from .devices import resolve_device

    torch.set_num_threads(args.threads)
    try:
        resolve_device(args.device)
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
