"""Train the default checkpoints the repository ships (shaping_core/checkpoints/defaults/).

    python experiments/train_default_policies.py --out out/default_policies \
        --bandit-data ../shared/data/bandit_choice_engineering.csv \
        --gonogo-data ../shared/data/gonogo_self_regulation.csv.gz \
        --ipd-data ../shared/data/ipd_human_games.csv.gz

The bandit's (with --bandit-data, the human data of Dezfouli, Nock & Dayan 2020) and go/no-go's
(with --gonogo-data, the Self-Regulation Ontology's 418 people): a surrogate is fitted to the people
(`fit-surrogate` with the arguments of PEOPLE, 5-fold CV), and its MAX and AdAlign adversaries
are trained (seed 0) by the plain `train-adversary`, which takes each game's measured defaults
(`Game.default_training`): the bandit's robustly (`--population zoo`: the surrogate and the learner
zoo's families), so that they shape people who learn differently from the surrogate: MAX by fitted
Q with the surrogate on 0.9 of the episodes under the pace rule (`--pace-lag 6`), the mean of two
plans (`--plans 2`), AdAlign by PPO with the surrogate on half (docs/loop.md, "Transfer to the
learner zoo"); go/no-go's against
the surrogate alone, MAX by fitted Q and AdAlign by PPO. The IPD's (with --ipd-data,
26,026 games from 7 studies) against the surrogate of those games, which reads each game's payoffs
and horizon and so predicts people in the platform's own IPD (docs/asymmetry.md). Their checkpoints
record the data's sha256, the surrogate's held-out NLL and the population.

Every other game, and a game without its data: `offline_loop.py` with small settings:
synthetic learners play the game's random baseline, a surrogate is fitted to their trials, and one
adversary per objective of the game is trained against it (seed 0).

Each checkpoint is then copied to `shaping_core/checkpoints/defaults/<game>-<objective>.pt`, where
`manage.py seed_demo` (run by `make run`) registers it and offers it in the demo study of its game.
The full reports (data, surrogate, learning curves, evaluation against the surrogate, the zoo and
the true learner) stay in --out.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import offline_loop  # noqa: E402

from shaping_core.__main__ import main as shaping_core_main  # noqa: E402
from shaping_core.games import make_game  # noqa: E402

# The synthetic population each game's surrogate is fitted to (a range is drawn per participant).
LEARNERS = {
    "bandit": ("q_learning", {"alpha": [0.2, 0.5], "beta": [3.0, 6.0], "kappa": [0.0, 0.5]}),
    "gonogo": ("q_learning", {"alpha": [0.1, 0.3], "beta": [3.0, 6.0], "kappa": [0.0, 0.3]}),
    "trust": ("investor", {"initial_trust": [0.3, 0.7], "learning_rate": [0.2, 0.4]}),
    "ipd": ("q_learning", {"alpha": [0.2, 0.5], "beta": [3.0, 6.0], "gamma": [0.5, 0.9]}),
}
SMALL = ["--participants", "200", "--seeds", "1", "--hidden-sizes", "8", "16", "--folds", "3",
         "--max-epochs", "60", "--patience", "10", "--iterations", "60", "--batch-size", "256",
         "--hidden-size", "16", "--eval-episodes", "1024", "--threads", "1"]


# The human data each game's checkpoints may be trained on: its format and the fit-surrogate
# arguments (the sizes cross-validation compares; docs/loop.md gives the chosen ones and why
# go/no-go's step size is annealed). Every objective of the game is then trained by the plain
# `train-adversary`, which takes the method, population and settings measured best for the game
# and objective from the game's `default_training` (the bandit's MAX: fitted Q against the
# surrogate and the zoo under the pace rule; go/no-go's MAX: fitted Q against the surrogate;
# docs/loop.md).
PEOPLE = {
    "bandit": ("bandit-choice-engineering", ("--hidden-sizes", "16,32")),
    "gonogo": ("gonogo-self-regulation", ("--hidden-sizes", "16", "--anneal-lr")),
    "ipd": ("ipd-human-games", ("--hidden-sizes", "16", "--anneal-lr", "--batch-size", "256",
                                "--max-epochs", "40", "--patience", "8")),
}


def train_on_people(game: str, data: Path, out: Path, install: Path) -> dict:
    """The surrogate of the people in `data`, then robust MAX and AdAlign adversaries against it and
    the game's learner zoo, by the documented commands (docs/loop.md)."""
    data_format, fit_arguments = PEOPLE[game]
    surrogate = out / "surrogate.pt"
    summary = {"surrogate": run_command(["fit-surrogate", "--game", game, "--data", data, "--data-format",
                                         data_format, *fit_arguments, "--threads", "1", "--out", surrogate])}
    for objective in make_game(game).spec.objectives:
        checkpoint = out / f"{game}-{objective}.pt"
        summary[objective] = run_command(["train-adversary", "--game", game, "--surrogate", surrogate,
                                          "--objective", objective, "--threads", "1", "--seed", "0",
                                          "--out", checkpoint])
        shutil.copyfile(checkpoint, install / f"{game}-{objective}.pt")
        print(f"installed {install / f'{game}-{objective}.pt'}", flush=True)
    return summary


def run_command(argv: list) -> dict:
    """`python -m shaping_core ARGV` in this process; its summary (the last line it prints)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        if shaping_core_main([str(a) for a in argv]) != 0:
            raise SystemExit(f"python -m shaping_core {' '.join(map(str, argv))} failed")
    return json.loads(printed.getvalue().strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the full reports")
    parser.add_argument("--install-dir", default=str(Path(__file__).resolve().parent.parent
                                                     / "shaping_core" / "checkpoints" / "defaults"))
    parser.add_argument("--games", nargs="+", default=list(LEARNERS), choices=list(LEARNERS))
    for game, (data_format, *_) in PEOPLE.items():
        parser.add_argument(f"--{game}-data", default=None, type=Path,
                            help=f"human {game} data ({data_format} format) for the {game}'s checkpoints; "
                                 "without it they are trained on simulated people")
    args = parser.parse_args(argv)
    people = {game: getattr(args, f"{game}_data") for game in PEOPLE}
    for game, path in people.items():
        if path is not None and not path.is_file():
            parser.error(f"--{game}-data {path}: file not found")
    install = Path(args.install_dir)
    install.mkdir(parents=True, exist_ok=True)
    summaries = {}
    for game in args.games:
        if people.get(game) is not None:
            summaries[game] = train_on_people(game, people[game], Path(args.out) / game, install)
            continue
        learner, params = LEARNERS[game]
        run_args = offline_loop.parse_args(
            ["--game", game, "--learner", learner, "--learner-params", json.dumps(params),
             "--out", str(Path(args.out) / game), *SMALL])
        summaries[game] = offline_loop.run(run_args)
        for objective in run_args.objectives:
            source = Path(args.out) / game / "adversaries" / f"{objective}-seed0.pt"
            shutil.copyfile(source, install / f"{game}-{objective}.pt")
            print(f"installed {install / f'{game}-{objective}.pt'}", flush=True)
    (Path(args.out) / "summary.json").write_text(json.dumps(summaries, indent=2) + "\n")
    print(json.dumps(summaries), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
