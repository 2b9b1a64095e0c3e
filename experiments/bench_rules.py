"""How fast are the batched game rules, and what does batching buy?

For each game, plays whole episodes with a classic adversary (a policy `act`, `sample_actions` and
`game.step` per trial, participant actions uniformly random) at several batch sizes, and compares
with the straightforward loop the live server effectively runs: one episode at a time at batch
size one. Prints trial-steps per second per game and batch size, and the ratio to batch 1.

    python experiments/bench_rules.py --out out/bench_rules [--batch-sizes 1 64 1024 4096] [--repeats 3]

Writes config.json, metrics.json and steps_per_second.png to --out. Figures are medians over
--repeats runs taken in one process; compare ratios, not absolute numbers, across machines.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shaping_core.games import TurnOrder, make_game  # noqa: E402
from shaping_core.policies import make_policy, sample_actions  # noqa: E402

ADVERSARY = {"ipd": "tit_for_tat", "bandit": "random_schedule", "gonogo": "random_schedule",
             "trust": "random_repayment"}


def play_batch(game_name: str, batch_size: int, seed: int) -> int:
    """Play one batch of whole episodes; returns the number of trial-steps taken."""
    generator = torch.Generator().manual_seed(seed)
    game = make_game(game_name)
    policy = make_policy(ADVERSARY[game_name], game)
    n_actions = len(game.spec.participant_actions)
    state, policy_state = game.init(batch_size, generator=generator), policy.reset(batch_size)
    participant_first = game.spec.turn_order is TurnOrder.PARTICIPANT_FIRST
    steps = 0
    while not bool(state.done.all()):
        participant = torch.randint(0, n_actions, (batch_size,), generator=generator)
        observation = game.observe(state, participant if participant_first else None)
        probs, policy_state = policy.act(observation, policy_state)
        adversary = sample_actions(probs, observation.action_mask, generator)
        steps += int((~state.done).sum())
        state, _ = game.step(state, participant, adversary)
    return steps


def steps_per_second(game_name: str, batch_size: int, min_steps: int, seed: int) -> float:
    steps, start = 0, time.perf_counter()
    while steps < min_steps:
        steps += play_batch(game_name, batch_size, seed)
    return steps / (time.perf_counter() - start)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64, 1024, 4096])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-steps", type=int, default=20_000, help="steps per measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args(argv)
    if any(b < 1 for b in args.batch_sizes) or args.repeats < 1 or args.min_steps < 1:
        parser.error("batch sizes, --repeats and --min-steps must be positive")
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    config = {**{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine()}
    (args.out / "config.json").write_text(json.dumps(config, indent=2))

    metrics: dict[str, dict[str, dict[str, float]]] = {}
    for game_name in ADVERSARY:
        metrics[game_name] = {}
        for batch_size in args.batch_sizes:
            runs = [steps_per_second(game_name, batch_size, args.min_steps, args.seed + r)
                    for r in range(args.repeats)]
            metrics[game_name][str(batch_size)] = {"median": statistics.median(runs), "min": min(runs),
                                                   "max": max(runs)}
        base = metrics[game_name][str(args.batch_sizes[0])]["median"]
        for batch_size in args.batch_sizes:
            row = metrics[game_name][str(batch_size)]
            row["ratio_to_first"] = row["median"] / base
            print(f"{game_name:7s} batch {batch_size:5d}: {row['median']:12,.0f} steps/s "
                  f"(min {row['min']:,.0f}, max {row['max']:,.0f}; x{row['ratio_to_first']:.1f})")
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    _plot(metrics, args.batch_sizes, args.out / "steps_per_second.png")
    print(json.dumps({game: {b: round(v["median"]) for b, v in rows.items()} for game, rows in metrics.items()}))
    return metrics


def _plot(metrics, batch_sizes, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for game_name, rows in metrics.items():
        medians = [rows[str(b)]["median"] for b in batch_sizes]
        low = [rows[str(b)]["median"] - rows[str(b)]["min"] for b in batch_sizes]
        high = [rows[str(b)]["max"] - rows[str(b)]["median"] for b in batch_sizes]
        ax.errorbar(batch_sizes, medians, yerr=[low, high], marker="o", capsize=3, label=game_name)
    ax.set(xscale="log", yscale="log", xlabel="episodes in a batch", ylabel="trial-steps per second",
           title="Batched game rules with a classic adversary (median, min-max)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
