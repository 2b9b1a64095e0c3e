"""Train the small default checkpoints the repository ships (shaping_core/checkpoints/defaults/).

    python experiments/train_default_policies.py --out out/default_policies

For every game, `offline_loop.py` with small settings: synthetic learners play the game's random
baseline, a surrogate is fitted to their trials, and one adversary per objective of the game is
trained against it (seed 0). Each checkpoint is then copied to
`shaping_core/checkpoints/defaults/<game>-<objective>.pt`, where `manage.py seed_demo` (run by
`make run`) registers it and offers it in the demo study of its game. The full reports (data,
surrogate, learning curves, evaluation against the surrogate and the true learner) stay in --out.

These are demonstration policies trained on simulated people, not on human data; a study's real
adversaries come from `fit-surrogate` on its own export (docs/policies.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import offline_loop  # noqa: E402

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the full reports")
    parser.add_argument("--install-dir", default=str(Path(__file__).resolve().parent.parent
                                                     / "shaping_core" / "checkpoints" / "defaults"))
    parser.add_argument("--games", nargs="+", default=list(LEARNERS), choices=list(LEARNERS))
    args = parser.parse_args(argv)
    install = Path(args.install_dir)
    install.mkdir(parents=True, exist_ok=True)
    summaries = {}
    for game in args.games:
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
