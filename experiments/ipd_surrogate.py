"""The human IPD surrogate: a GRU fitted on 26,026 repeated prisoner's dilemma games from 7
laboratory studies (Nay & Vorobeychik 2016), conditioned on each game's payoffs and horizon, and
scored on people it was not fitted on, beside the constant and memory-one predictors.

    python experiments/ipd_surrogate.py --out out/ipd_surrogate            # about 20 minutes
    python experiments/ipd_surrogate.py --small --out out/ipd_surrogate_small   # a minute

1. Random-sequence CV (`--folds` folds over games) chooses the hidden size and the number of
   epochs (shaping_core/surrogate/fit.py); the refit on every game is the surrogate, written to
   `surrogate.pt` with its provenance.
2. Leave-one-study-out: a network of the chosen size and epochs is trained on six studies and
   scored on the seventh, for each study and each of `--loso-seeds` training seeds. The data hold no person ids (one person played many
   games), so random-sequence folds share people between training and test; the study folds do
   not, and they also hold out payoff matrices and horizons. They are never used for selection.
3. What the refit predicts for the first round of every study's game and of the platform's own
   IPD, beside people's first-round cooperation in each study.

Writes config.json, metrics.json, table.md, nll_by_study.png and surrogate.pt to --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from shaping_core.data import DataFormatError, load_sequences, read_trials  # noqa: E402
from shaping_core.games import make_game  # noqa: E402
from shaping_core.participants import ParticipantView  # noqa: E402
from shaping_core.surrogate.checkpoint import save_surrogate  # noqa: E402
from shaping_core.surrogate.fit import (SurrogateSettings, constant_nll, fit_surrogate,  # noqa: E402
                                        leave_one_group_out, memory_one_nll)

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ipd_human_games.csv.gz"
DATA_FORMAT = "ipd-human-games"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--hidden-sizes", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--folds", type=int, default=5, help="random-sequence CV folds")
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=256, help="games per minibatch")
    parser.add_argument("--context-noise", type=float, default=0.0,
                        help="std of the noise on the payoffs and horizon in training (SurrogateSettings)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loso-seeds", type=int, default=3,
                        help="training seeds of each leave-one-study-out fold (seed, seed + 1, ...)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--small", action="store_true",
                        help="one hidden size (8), 3 epochs at most: a quick end-to-end check")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    if args.small:
        args.hidden_sizes, args.max_epochs, args.loso_seeds = [8], 3, 2
    if args.folds < 2 or min(args.max_epochs, args.batch_size, args.patience, args.loso_seeds) < 1:
        parser.error("--folds must be at least 2; --max-epochs, --batch-size, --patience, "
                     "--loso-seeds at least 1")
    if args.context_noise < 0:
        parser.error("--context-noise must be at least 0")
    return args


def random_fold_baselines(sequences, assignment: list[int]) -> dict[str, float]:
    """The constant and memory-one predictors' held-out NLL on the random-sequence folds."""
    assignment = torch.tensor(assignment)
    scores = {"constant": [], "memory_one": []}
    for fold in range(int(assignment.max()) + 1):
        train = sequences.subset(torch.nonzero(assignment != fold).squeeze(1))
        test = sequences.subset(torch.nonzero(assignment == fold).squeeze(1))
        for name, score in (("constant", constant_nll), ("memory_one", memory_one_nll)):
            nll, choices = score(train, test)
            scores[name].append(nll / choices)
    return {f"{name}{suffix}": value for name, values in scores.items()
            for suffix, value in (("", float(np.mean(values))), ("_std", float(np.std(values, ddof=1))))}


@torch.no_grad()
def first_round_p_cooperate(net, frame, sequences) -> dict[str, dict[str, float]]:
    """P(C) in round 1 as the surrogate predicts it and as people chose, per study; and the
    prediction for the platform's default IPD (20 announced rounds), which no study played."""
    first = frame[frame["trial"] == 0].set_index("participant")
    index = {name: i for i, name in enumerate(sequences.ids)}
    out = {}
    for study, rows in first.groupby("study"):
        rows_index = torch.tensor([index[p] for p in rows.index])
        context = sequences.context[rows_index, :1]
        out[study] = {"surrogate": _p_first(net, context), "people":
                      float((rows["participant_action_index"] == 0).mean())}
    game = make_game("ipd")
    out["platform default (R3 S0 T5 P1, 20 rounds)"] = {
        "surrogate": _p_first(net, game.participant_context(torch.zeros(1, 1, dtype=torch.long))),
        "people": None}
    return out


def _p_first(net, context) -> float:
    n = context.shape[0]
    none = torch.full((n, 1), -1)
    view = ParticipantView(trial=torch.zeros(n, 1, dtype=torch.long), last_action=none,
                           last_reward=torch.zeros(n, 1), last_seen=none, cue=none, context=context)
    logits, _ = net(view)
    return float(torch.softmax(logits[:, 0], dim=-1)[:, 0].mean())


def loso_rows(by_seed: list[list[dict]]) -> list[dict]:
    """Each study's row with the surrogate's NLL as the mean (and std) over the training seeds;
    the constant and memory-one predictors have no seed."""
    rows = []
    for study_rows in zip(*by_seed):
        values = [row["surrogate"] for row in study_rows]
        rows.append({**study_rows[0], "surrogate": float(np.mean(values)),
                     "surrogate_std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                     "surrogate_by_seed": values})
    return rows


def format_table(metrics: dict) -> str:
    lines = ["| held out | games | choices | constant | memory-one | surrogate (mean ± std over "
             "training seeds) | surrogate − memory-one |", "|---|---:|---:|---:|---:|---:|---:|"]
    for row in metrics["leave_one_study_out"]["studies"]:
        lines.append(f"| study {row['group']} | {row['sequences']} | {row['choices']} | "
                     f"{row['constant']:.4f} | {row['memory_one']:.4f} | {row['surrogate']:.4f} ± "
                     f"{row['surrogate_std']:.4f} | {row['surrogate'] - row['memory_one']:+.4f} |")
    mean = metrics["leave_one_study_out"]["mean"]
    lines.append(f"| **mean over studies** | | | {mean['constant']:.4f} | {mean['memory_one']:.4f} | "
                 f"{mean['surrogate']:.4f} ± {mean['surrogate_std']:.4f} | "
                 f"{mean['surrogate'] - mean['memory_one']:+.4f} |")
    random_cv = metrics["random_sequence_cv"]
    lines.append(f"| random games ({random_cv['folds']} folds, mean ± std) | | | "
                 f"{random_cv['constant']:.4f} ± {random_cv['constant_std']:.4f} | "
                 f"{random_cv['memory_one']:.4f} ± {random_cv['memory_one_std']:.4f} | "
                 f"{random_cv['surrogate']:.4f} ± {random_cv['surrogate_std']:.4f} | "
                 f"{random_cv['surrogate'] - random_cv['memory_one']:+.4f} |")
    return "\n".join(lines)


def plot(metrics: dict, path: Path) -> None:
    rows = metrics["leave_one_study_out"]["studies"]
    names = [row["group"] for row in rows] + ["mean"]
    mean = metrics["leave_one_study_out"]["mean"]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 4))
    for k, (key, label) in enumerate((("constant", "constant"), ("memory_one", "memory-one"),
                                      ("surrogate", "surrogate (GRU + context)"))):
        values = [row[key] for row in rows] + [mean[key]]
        ax.bar(x + (k - 1) * 0.27, values, width=0.27, label=label)
    ax.set_xticks(x, [f"{n}" for n in names])
    ax.set_xlabel("held-out study")
    ax.set_ylabel("NLL per decision (nats)")
    ax.set_title("Human IPD: leave-one-study-out NLL (lower is better)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    game = make_game("ipd")
    try:
        frame = read_trials(args.data, DATA_FORMAT, game=game)
        sequences = load_sequences(args.data, DATA_FORMAT, game=game)
    except DataFormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    command = " ".join(["python experiments/ipd_surrogate.py", *(sys.argv[1:] if argv is None else argv)])
    provenance = {**sequences.provenance, "command": command}
    study_of = frame.groupby("participant")["study"].first()
    groups = [study_of[i] for i in sequences.ids]
    settings = SurrogateSettings(hidden_sizes=tuple(args.hidden_sizes), folds=args.folds,
                                 max_epochs=args.max_epochs, patience=args.patience,
                                 batch_size=args.batch_size, seed=args.seed, anneal_lr=True,
                                 context_noise=args.context_noise)
    args.out.mkdir(parents=True, exist_ok=True)
    config = {"argv": sys.argv[1:] if argv is None else argv, "data": provenance,
              "settings": settings.to_mapping(), "torch": torch.__version__,
              "python": platform.python_version(), "threads": args.threads}
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    started = time.perf_counter()
    fit = fit_surrogate(sequences, settings)
    print(f"random-sequence CV: hidden {fit.hidden_size}, {fit.epochs} epochs, held-out NLL "
          f"{fit.metrics['nll_per_choice']:.4f} ± {fit.metrics['nll_per_choice_std']:.4f}")
    random_cv = {"folds": args.folds, "hidden_size": fit.hidden_size, "epochs": fit.epochs,
                 "surrogate": fit.metrics["nll_per_choice"],
                 "surrogate_std": fit.metrics["nll_per_choice_std"],
                 "accuracy": fit.metrics["accuracy"], "cv_table": fit.cv_table,
                 **random_fold_baselines(sequences, fit.folds)}
    by_seed = [leave_one_group_out(sequences, groups, fit.hidden_size, fit.epochs,
                                   dataclasses.replace(settings, seed=seed), progress=True)
               for seed in range(args.seed, args.seed + args.loso_seeds)]
    studies = loso_rows(by_seed)
    mean = {key: float(np.mean([row[key] for row in studies]))
            for key in ("constant", "memory_one", "surrogate")}
    per_seed = [float(np.mean([row["surrogate"] for row in rows])) for rows in by_seed]
    mean["surrogate_std"] = float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0
    beaten = [row["group"] for row in studies if row["surrogate"] < row["memory_one"]]
    metrics = {"random_sequence_cv": random_cv,
               "leave_one_study_out": {"studies": studies, "mean": mean,
                                       "surrogate_beats_memory_one_in": beaten},
               "first_round_p_cooperate": first_round_p_cooperate(fit.net, frame, sequences),
               "seconds": time.perf_counter() - started}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    table = format_table(metrics)
    (args.out / "table.md").write_text(table + "\n")
    plot(metrics, args.out / "nll_by_study.png")
    save_surrogate(args.out / "surrogate.pt", fit.net, game, provenance=provenance,
                   selection=fit.selection,
                   metrics={**fit.metrics, "leave_one_study_out": metrics["leave_one_study_out"]},
                   settings=settings.to_mapping())
    print(table)
    print(f"surrogate beats memory-one in {len(beaten)} of {len(studies)} held-out studies; "
          f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
