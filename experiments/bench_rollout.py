"""How fast are surrogate-in-the-loop rollouts, and what does batching buy?

A rollout is what adversary training and evaluation run (shaping_core/simulation.py):
`play_episodes(game, SurrogateParticipant(game, SurrogateNet(game, H)), adversary, batch)`, the
human surrogate (a GRU) choosing for every participant against one adversary. For each game this
times two adversaries:

- the game's classic baseline (`Game.baseline_adversary`), and
- a `ShapingAdversary`, the trained adversaries' architecture: a GRU policy that also runs its own
  copy of the surrogate every trial (its cost does not depend on whether it was trained).

The networks are randomly initialised from --seed; a fitted surrogate of the same size costs the
same. One environment step is one trial of one episode. Each batch size is compared with the
straightforward loop measured in the same run: a Python loop over episodes, each played on its own
(batch size 1), as one would write it without the batched rules.

    python experiments/bench_rollout.py --out out/bench_rollout [--device auto|cpu|cuda]
        [--threads N] [--repeats 3] [--batch-sizes 1 64 1024 4096 16384] [--games bandit ...]

Prints a table of steps per second (median of --repeats, min-max) and the ratio to the
one-episode loop, then, as the last line, one JSON object with the figures. Writes config.json,
metrics.json and steps_per_second.png to --out. Runs on CUDA unchanged (--device cuda, or auto).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Idle OpenMP worker threads sleep instead of spinning. On a machine shared with other jobs a
# spinning worker takes the core from the thread with work to do, and every parallel operator then
# waits a scheduler time slice: 10x slower at 2 threads on the 2-core development machine with
# training running beside it. Must be set before torch loads OpenMP; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shaping_core.games import GAMES, make_game  # noqa: E402
from shaping_core.policies import make_policy  # noqa: E402
from shaping_core.policies.base import Policy  # noqa: E402
from shaping_core.policies.shaping import ShapingAdversary  # noqa: E402
from shaping_core.simulation import play_episodes  # noqa: E402
from shaping_core.surrogate.model import SurrogateNet, SurrogateParticipant  # noqa: E402

ADVERSARIES = ("baseline", "shaping")


def build(game_name: str, adversary_kind: str, surrogate_hidden: int, shaping_hidden: int, seed: int):
    """The game, a surrogate participant and the adversary, with seeded random weights."""
    torch.manual_seed(seed)
    game = make_game(game_name)
    participant = SurrogateParticipant(game, SurrogateNet(game, surrogate_hidden).eval())
    adversary: Policy
    if adversary_kind == "baseline":
        name, params = game.baseline_adversary
        adversary = make_policy(name, game, params)
    else:
        # Its own copy of the surrogate, as a trained shaping adversary carries.
        adversary = ShapingAdversary(game, {"hidden_size": shaping_hidden},
                                     surrogate=SurrogateNet(game, surrogate_hidden))
    return game, participant, adversary


def adversary_label(game_name: str, adversary_kind: str) -> str:
    return make_game(game_name).baseline_adversary[0] if adversary_kind == "baseline" else "shaping"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def steps_per_second(play: Callable[[torch.Generator], int], device: torch.device, seed: int,
                     min_seconds: float) -> float:
    """Call `play` (which returns the steps it took) until `min_seconds` have passed, at least
    once; environment steps per second over all the calls."""
    generator = torch.Generator(device=device).manual_seed(seed)
    steps = 0
    _sync(device)
    start = time.perf_counter()
    while True:
        steps += play(generator)
        _sync(device)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return steps / elapsed


def summary(runs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(runs), "min": min(runs), "max": max(runs)}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: all cores)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64, 1024, 4096, 16384])
    parser.add_argument("--games", nargs="+", choices=tuple(GAMES), default=list(GAMES))
    parser.add_argument("--adversaries", nargs="+", choices=ADVERSARIES, default=list(ADVERSARIES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-seconds", type=float, default=1.0,
                        help="time per measurement (whole batches are played, at least one)")
    parser.add_argument("--surrogate-hidden", type=int, default=16, help="the surrogate's GRU size")
    parser.add_argument("--shaping-hidden", type=int, default=32, help="the shaping policy's GRU size")
    args = parser.parse_args(argv)
    if (any(b < 1 for b in args.batch_sizes) or args.repeats < 1 or args.min_seconds < 0
            or (args.threads is not None and args.threads < 1)):
        parser.error("batch sizes, --repeats and --threads must be positive, --min-seconds >= 0")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available")
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
                          else "cpu")
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    batch_sizes = sorted(set(args.batch_sizes))

    args.out.mkdir(parents=True, exist_ok=True)
    config = {**{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "batch_sizes": batch_sizes, "device": str(device), "threads": torch.get_num_threads(),
              "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
              "cpu": cpu_name(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
              "python": platform.python_version(), "machine": platform.machine(),
              "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
              "load_average_at_start": os.getloadavg(),
              "seeds": {"networks": args.seed, "rollouts": f"{args.seed} + repeat index"},
              "baselines": {g: make_game(g).baseline_adversary[0] for g in args.games}}
    (args.out / "config.json").write_text(json.dumps(config, indent=2))
    print(f"device {device} ({config['device_name']}), {config['threads']} threads, "
          f"torch {torch.__version__}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    metrics: dict[str, dict] = {}
    header = (f"{'game / adversary':26s} {'batch':>7s} {'steps/s (median)':>17s} {'min':>11s} "
              f"{'max':>11s} {'x loop':>8s}")
    print(header)
    print("-" * len(header))
    for game_name in args.games:
        for kind in args.adversaries:
            game, participant, adversary = build(game_name, kind, args.surrogate_hidden,
                                                 args.shaping_hidden, args.seed)
            key = f"{game_name}/{adversary_label(game_name, kind)}"

            def batched(batch_size: int) -> Callable[[torch.Generator], int]:
                def play(generator: torch.Generator) -> int:
                    episodes = play_episodes(game, participant, adversary, batch_size,
                                             generator=generator, device=device)
                    return int(episodes.active.sum())
                return play

            def one_episode(generator: torch.Generator) -> int:
                # The straightforward way: one episode at a time; steps_per_second calls this in
                # a plain Python loop, so the loop plays episode after episode at batch size 1.
                episodes = play_episodes(game, participant, adversary, 1, generator=generator,
                                         device=device)
                return int(episodes.active.sum())

            # Warm up (first calls allocate, and on CUDA load kernels); not timed.
            for batch_size in (1, min(batch_sizes[-1], 64)):
                batched(batch_size)(torch.Generator(device=device).manual_seed(args.seed))
            loop = summary([steps_per_second(one_episode, device, args.seed + r, args.min_seconds)
                            for r in range(args.repeats)])
            rows = {}
            for batch_size in batch_sizes:
                row = summary([steps_per_second(batched(batch_size), device, args.seed + r,
                                                args.min_seconds) for r in range(args.repeats)])
                row["ratio_to_loop"] = row["median"] / loop["median"]
                rows[str(batch_size)] = row
            metrics[key] = {"one_episode_loop": loop, "batch": rows}
            print(f"{key:26s} {'loop':>7s} {loop['median']:17,.0f} {loop['min']:11,.0f} "
                  f"{loop['max']:11,.0f} {1:8.1f}")
            for batch_size, row in rows.items():
                print(f"{'':26s} {batch_size:>7s} {row['median']:17,.0f} {row['min']:11,.0f} "
                      f"{row['max']:11,.0f} {row['ratio_to_loop']:8.1f}", flush=True)

    config["load_average_at_end"] = os.getloadavg()
    (args.out / "config.json").write_text(json.dumps(config, indent=2))
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    _plot(metrics, batch_sizes, device, config["threads"], args.out / "steps_per_second.png")
    figures = {
        "device": str(device), "threads": config["threads"],
        "steps_per_second": {k: {b: round(r["median"]) for b, r in m["batch"].items()}
                             for k, m in metrics.items()},
        "one_episode_loop": {k: round(m["one_episode_loop"]["median"]) for k, m in metrics.items()},
        "ratio_to_loop": {k: {b: round(r["ratio_to_loop"], 1) for b, r in m["batch"].items()}
                          for k, m in metrics.items()},
    }
    print(json.dumps(figures))
    return metrics


def _plot(metrics, batch_sizes, device, threads, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, m in metrics.items():
        rows = m["batch"]
        medians = [rows[str(b)]["median"] for b in batch_sizes]
        low = [rows[str(b)]["median"] - rows[str(b)]["min"] for b in batch_sizes]
        high = [rows[str(b)]["max"] - rows[str(b)]["median"] for b in batch_sizes]
        line = ax.errorbar(batch_sizes, medians, yerr=[low, high], marker="o", capsize=3, label=key,
                           linestyle="--" if key.endswith("/shaping") else "-")
        # The one-episode loop, drawn at batch size 1 where it belongs.
        ax.plot([1], [m["one_episode_loop"]["median"]], marker="x", markersize=9, linestyle="none",
                color=line.lines[0].get_color())
    ax.set(xscale="log", yscale="log", xlabel="episodes in a batch", ylabel="environment steps per second",
           title=f"Surrogate-in-the-loop rollouts ({device}, {threads} threads; median, min-max;\n"
                 "x = one-episode-at-a-time loop)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
