"""Train the default checkpoints the repository ships (shaping_core/checkpoints/defaults/).

    python experiments/train_default_policies.py --out out/default_policies \
        --bandit-data ../shared/data/bandit_choice_engineering.csv

The bandit's (with --bandit-data, the human data of Dezfouli, Nock & Dayan 2020): a surrogate is
fitted to the people (`fit-surrogate`, hidden sizes 16 and 32 compared by 5-fold CV), and its MAX
and AdAlign adversaries are trained robustly (`train-adversary --population zoo`: the surrogate on
half the episodes, the learner zoo's families on the rest; PPO, the default settings, seed 0), so
that they shape people who learn differently from the surrogate (docs/loop.md, "Transfer to the
learner zoo"). Their checkpoints record the data's sha256, the surrogate's held-out NLL and the
population.

Every other game, and the bandit without --bandit-data: `offline_loop.py` with small settings:
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


def train_bandit_on_people(data: Path, out: Path, install: Path) -> dict:
    """The surrogate of the people in `data`, then robust MAX and AdAlign adversaries against it and
    the learner zoo, by the documented commands (docs/loop.md)."""
    surrogate = out / "surrogate.pt"
    summary = {"surrogate": run_command(["fit-surrogate", "--game", "bandit", "--data", data, "--data-format",
                                         "bandit-choice-engineering", "--hidden-sizes", "16,32", "--threads", "1",
                                         "--out", surrogate])}
    for objective in ("max", "adalign"):
        checkpoint = out / f"bandit-{objective}.pt"
        summary[objective] = run_command(["train-adversary", "--game", "bandit", "--surrogate", surrogate,
                                          "--objective", objective, "--population", "zoo", "--threads", "1",
                                          "--seed", "0", "--out", checkpoint])
        shutil.copyfile(checkpoint, install / f"bandit-{objective}.pt")
        print(f"installed {install / f'bandit-{objective}.pt'}", flush=True)
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
    parser.add_argument("--bandit-data", default=None, type=Path,
                        help="the human bandit data (bandit-choice-engineering format) for the bandit's "
                             "checkpoints; without it they are trained on simulated people")
    args = parser.parse_args(argv)
    if args.bandit_data is not None and not args.bandit_data.is_file():
        parser.error(f"--bandit-data {args.bandit_data}: file not found")
    install = Path(args.install_dir)
    install.mkdir(parents=True, exist_ok=True)
    summaries = {}
    for game in args.games:
        if game == "bandit" and args.bandit_data is not None:
            summaries[game] = train_bandit_on_people(args.bandit_data, Path(args.out) / game, install)
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
