"""The generative check of a fitted surrogate (shaping_core/surrogate/generative.py): simulate it
under the schedules people faced and compare its behaviour with theirs, with bootstrap intervals.

    python experiments/generative_check.py --surrogate out/gonogo_human/surrogate.pt \
        --data ../shared/data/gonogo_self_regulation.csv.gz --data-format gonogo-self-regulation \
        --replications 10 --seed 0 --out out/generative_gonogo

Writes config.json, metrics.json (every statistic: people's mean and 95% interval, the model's,
the difference's, and
whether its interval holds 0) and check.png, and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from shaping_core.data import DATA_FORMATS, DataFormatError, load_sequences  # noqa: E402
from shaping_core.policies import make_policy  # noqa: E402
from shaping_core.surrogate.checkpoint import SurrogateCheckpointError, load_surrogate  # noqa: E402
from shaping_core.surrogate.generative import CheckResult, generative_check  # noqa: E402
from shaping_core.surrogate.model import SurrogateParticipant  # noqa: E402
from shaping_core.transfer import BASELINE  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--surrogate", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path, help="the people the surrogate is compared with")
    parser.add_argument("--data-format", choices=DATA_FORMATS, default="platform")
    parser.add_argument("--replications", type=int, default=10, help="simulations per person")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples of people")
    parser.add_argument("--baseline", default=BASELINE,
                        help="the adversary played where the data lack people's schedules")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    if args.replications < 1 or args.resamples < 100:
        parser.error("--replications must be at least 1 and --resamples at least 100")
    return args


def format_table(result: CheckResult) -> str:
    lines = [f"schedule: {result.schedule}; {result.replications} simulations per person; 95% intervals",
             f"{'statistic':<32} {'people':>24} {'surrogate':>24} {'surrogate - people':>26}  consistent"]
    for row in result.rows:
        shown = [f"{i.mean:.3f} [{i.low:.3f}, {i.high:.3f}]" for i in (row.people, row.model)]
        d = row.difference
        difference = f"{d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"
        lines.append(f"{row.statistic:<32} {shown[0]:>24} {shown[1]:>24} {difference:>26}  "
                     f"{ {True: 'yes', False: 'NO', None: '—'}[row.consistent] }")
    return "\n".join(lines)


def plot(result: CheckResult, path: Path, title: str) -> None:
    """Per statistic, the surrogate's difference from people in percent of people's mean, with its
    95% interval: one axis for rates and run lengths alike."""
    rows = [r for r in result.rows if r.consistent is not None and r.people.mean != 0]
    figure, ax = plt.subplots(figsize=(7, 0.3 * len(rows) + 1.3))
    for y, row in enumerate(rows):
        scale = 100 / abs(row.people.mean)
        d = row.difference
        ax.errorbar(d.mean * scale, y, xerr=[[(d.mean - d.low) * scale], [(d.high - d.mean) * scale]],
                    fmt="o", markersize=3, color="tab:blue" if row.consistent else "tab:red")
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(range(len(rows)), [r.statistic for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("surrogate - people, % of people's mean (red: its 95% interval excludes 0)")
    ax.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        loaded = load_surrogate(args.surrogate)
        people = load_sequences(args.data, args.data_format, game=loaded.game)
    except (SurrogateCheckpointError, DataFormatError, FileNotFoundError) as error:
        raise SystemExit(f"generative_check.py: {error}") from None
    surrogate = SurrogateParticipant(loaded.game, loaded.net)
    baseline = make_policy(args.baseline, loaded.game)
    result = generative_check(surrogate, people, baseline=baseline, replications=args.replications,
                              resamples=args.resamples, seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    config = {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()}
    config["data_provenance"] = people.provenance
    (args.out / "config.json").write_text(json.dumps(config, indent=2))
    (args.out / "metrics.json").write_text(json.dumps(result.to_dict(), indent=2))
    title = f"{loaded.game.spec.label}: surrogate vs {people.n_sequences} people ({result.schedule} schedules)"
    plot(result, args.out / "check.png", title)
    print(format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
