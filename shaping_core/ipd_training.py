"""IPD experiments: self-play training (Duque et al., Figure 1) and the league.

Called by the CLI (`python -m shaping_core ipd-selfplay ...`, `... ipd-league ...`); usable from a
notebook too. Every run writes to its output folder:

- config.json   the exact settings, seeds, device and versions,
- metrics.json  per-seed values (P(C | start, CC, CD, DC, DD) of both agents, mean reward per
                round of the first agent in the paper's units, training time) or the league matrix,
- figures       p_cooperate.png (bars = mean over seeds, whiskers = min..max, dots = seeds),
                league.png (+ league.csv),
- checkpoints   checkpoints/<algo>_seed<N>.pt (the first agent), loadable with
                shaping_core.policies.checkpoint.load_policy.

Game: the IPD with the paper's payoffs R, S, T, P = -1, -3, 0, -2 and discount 0.96; training uses
fixed-length batches of `rounds` rounds, bootstrapped at the cut (the infinitely repeated game).
"""

from __future__ import annotations

import csv
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .algorithms.actor_critic import ActorCriticSettings, Learner, actor_critic_update
from .algorithms.adalign import AdAlignLearner, AdAlignSettings, adalign_update
from .algorithms.lola_exact import ExactLOLASettings, train_exact_lola
from .algorithms.rollout import play
from .devices import resolve_device
from .games import make_game
from .games.base import Game
from .policies.base import Policy
from .policies.checkpoint import save_policy
from .policies.classic import (AlwaysCooperate, AlwaysDefect, RandomIPD, TitForTat,
                               WinStayLoseShift)
from .policies.gru import GRUNet, GRUPolicy, n_features_of
from .policies.tabular import STATE_NAMES, OneStepMemoryNet, StateValueTable, TabularIPDPolicy
from .run_dir import RunDir

PAPER_PAYOFFS = {"reward": -1.0, "sucker": -3.0, "temptation": 0.0, "punishment": -2.0}
ALGORITHMS = ("adalign", "naive", "lola-exact")


@dataclass
class SelfPlayConfig:
    """One self-play experiment: `algo` trained from `len(seeds)` seeds."""

    algo: str = "adalign"
    seeds: list[int] = field(default_factory=lambda: list(range(10)))
    iterations: int | None = None  # training batches, or exact steps for lola-exact
    #   (None: DEFAULT_ITERATIONS[algo])
    batch_size: int = 512  # parallel episodes per batch
    rounds: int = 50  # rounds per episode in a batch
    policy: str = "tabular"  # "tabular" (one-step memory) or "gru" (full history)
    anneal_lr: bool = True  # policy step size decays linearly to 0 over training
    eval_episodes: int = 2048  # episodes played by the final policies to measure mean reward
    device: str = "cpu"
    adalign: dict[str, Any] = field(default_factory=dict)  # AdAlignSettings overrides
    naive: dict[str, Any] = field(default_factory=dict)  # ActorCriticSettings overrides
    lola: dict[str, Any] = field(default_factory=dict)  # ExactLOLASettings overrides

    def __post_init__(self):
        if self.algo not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algo!r}; expected one of {', '.join(ALGORITHMS)}")
        if self.policy not in ("tabular", "gru"):
            raise ValueError(f"policy must be 'tabular' or 'gru', got {self.policy!r}")
        if not self.seeds:
            raise ValueError("at least one seed is needed")
        if self.iterations is None:
            self.iterations = DEFAULT_ITERATIONS[self.algo]
        for name in ("iterations", "batch_size", "rounds", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


# Calibrated defaults (quick runs on 2 CPU cores; see the report). AdAlign: the proximal
# variant, running-mean past sum, one-step TD advantages inside the shaping term, beta = 3, and
# 60 annealed iterations. Trained much longer, these learners drift from tit-for-tat towards
# grim trigger (P(C | DC) falls once DC is no longer visited); the annealed schedule stops there.
CRITIC_DEFAULTS = dict(critic_lr=0.3, critic_steps=20, critic_refits=3)
ADALIGN_DEFAULTS = dict(beta=3.0, normalize_past=True, alignment_lambda=0.0, proximal=True,
                        policy_lr=0.05, **CRITIC_DEFAULTS)
NAIVE_DEFAULTS = dict(policy_lr=0.1, **CRITIC_DEFAULTS)
LOLA_DEFAULTS = dict(lr=1.0, lookahead_lr=1.0, iterations=300)
DEFAULT_ITERATIONS = {"adalign": 60, "naive": 60, "lola-exact": 300}


def ipd_game(rounds: int = 50) -> Game:
    return make_game("ipd", {**PAPER_PAYOFFS, "rounds": rounds})


# --- learners ------------------------------------------------------------------------------------


def _nets(game: Game, policy_kind: str, n_critics: int):
    if policy_kind == "tabular":
        return TabularIPDPolicy(game, net=OneStepMemoryNet()), [StateValueTable() for _ in range(n_critics)]
    n_features = n_features_of(game)
    policy = GRUPolicy(game, net=GRUNet(n_features, 2))
    return policy, [GRUNet(n_features, 1) for _ in range(n_critics)]


def make_learner(algo: str, game: Game, config: SelfPlayConfig, device) -> Learner:
    if algo == "adalign":
        settings = AdAlignSettings(**{**ADALIGN_DEFAULTS, **config.adalign})
        policy, (critic, opponent_critic) = _nets(game, config.policy, 2)
        return AdAlignLearner(policy, critic, opponent_critic, settings).to(device)
    settings = ActorCriticSettings(**{**NAIVE_DEFAULTS, **config.naive})
    policy, (critic,) = _nets(game, config.policy, 1)
    return Learner(policy, critic, settings).to(device)


def evaluate(game: Game, policy_a: Policy, policy_b: Policy, episodes: int,
             generator: torch.Generator, device) -> tuple[float, float]:
    """Mean reward per round of each side, over `episodes` sampled episodes."""
    with torch.no_grad():
        a, b = play(game, policy_a, policy_b, episodes, generator=generator, device=device)
    return a.mean_reward, b.mean_reward


def p_cooperate(policy: Policy) -> dict[str, float]:
    if isinstance(policy, TabularIPDPolicy):
        return policy.p_cooperate()
    return history_free_p_cooperate(policy)


def history_free_p_cooperate(policy: Policy) -> dict[str, float]:
    """P(C) of any policy after a one-round history (start, CC, CD, DC, DD), via `act`."""
    device = next(policy.net.parameters()).device if hasattr(policy, "net") else torch.device("cpu")
    game = ipd_game(2)
    state = game.init(5, device=device)
    own = torch.tensor([-1, 0, 0, 1, 1], device=device)
    opponent = torch.tensor([-1, 0, 1, 0, 1], device=device)
    state = dataclasses.replace(state, trial=(own >= 0).long(), last_adversary_action=own,
                                last_participant_action=opponent)
    observation = game.observe(state)
    memory = policy.reset(5, device)
    probs, _ = policy.act(observation, memory)
    return dict(zip(STATE_NAMES, probs[:, 0].tolist()))


def train_selfplay_seed(config: SelfPlayConfig, seed: int, device,
                        log: Callable[[str], None] = print) -> tuple[Policy, Policy, dict]:
    """Train two learners of `config.algo` against each other from `seed`; return both final
    policies and the seed's metrics."""
    torch.manual_seed(seed)
    generator = torch.Generator(device=device).manual_seed(seed)
    game = ipd_game(config.rounds)
    start = time.perf_counter()
    history: list[dict] = []
    if config.algo == "lola-exact":
        settings = ExactLOLASettings(**{**LOLA_DEFAULTS, **config.lola, "iterations": config.iterations})
        cpu_generator = torch.Generator().manual_seed(seed)
        theta1, theta2, history = train_exact_lola(settings, cpu_generator, device)
        policies = [TabularIPDPolicy(game, {"p_cooperate": torch.sigmoid(t).tolist()}) for t in (theta1, theta2)]
        settings_dict = dataclasses.asdict(settings)
    else:
        learners = [make_learner(config.algo, game, config, device) for _ in range(2)]
        update = adalign_update if config.algo == "adalign" else (lambda l, t, g: actor_critic_update(l, t))
        # Only the policies' step sizes decay; the critics keep theirs.
        schedules = [torch.optim.lr_scheduler.LambdaLR(learner.policy_optimizer,
                                                       lambda i: 1 - i / config.iterations)
                     for learner in learners] if config.anneal_lr else []
        for iteration in range(config.iterations):
            traj_a, traj_b = play(game, learners[0].policy, learners[1].policy, config.batch_size,
                                  generator=generator, device=device)
            update(learners[0], traj_a, generator)
            update(learners[1], traj_b, generator)
            for schedule in schedules:
                schedule.step()
            if iteration % 25 == 0 or iteration == config.iterations - 1:
                history.append({"iteration": iteration, "reward_1": traj_a.mean_reward,
                                "reward_2": traj_b.mean_reward})
        policies = [learner.policy for learner in learners]
        settings_dict = dataclasses.asdict(learners[0].settings)
    train_seconds = time.perf_counter() - start
    eval_game = ipd_game(config.rounds)
    reward_1, reward_2 = evaluate(eval_game, policies[0], policies[1], config.eval_episodes,
                                  generator, device)
    metrics = {
        "seed": seed,
        "p_cooperate": p_cooperate(policies[0]),
        "p_cooperate_agent_2": p_cooperate(policies[1]),
        "mean_reward": reward_1,
        "mean_reward_agent_2": reward_2,
        "train_seconds": train_seconds,
        "settings": settings_dict,
        "history": history,
    }
    pc = metrics["p_cooperate"]
    log(f"[{config.algo}] seed {seed}: mean reward {reward_1:.3f}, P(C) "
        + " ".join(f"{k}={v:.2f}" for k, v in pc.items()) + f"  ({train_seconds:.1f} s)")
    return policies[0], policies[1], metrics


def tit_for_tat_like(p: dict[str, float], mean_reward: float) -> bool:
    """The issue's acceptance test for one AdAlign seed."""
    return (p["CC"] >= 0.9 and p["DC"] >= 0.8 and p["CD"] <= 0.3 and p["DD"] <= 0.3
            and mean_reward >= -1.2)


def run_selfplay(config: SelfPlayConfig, out: str | Path, log: Callable[[str], None] = print) -> dict:
    """Train every seed, write config/metrics/figure/checkpoints to `out`, return the summary."""
    out = Path(out)
    device = resolve_device(config.device)
    run = RunDir(out, device)
    run.write_config({**dataclasses.asdict(config), "resolved_device": str(device), "payoffs": PAPER_PAYOFFS,
                      "gamma": 0.96})
    start = time.perf_counter()
    per_seed = []
    for seed in config.seeds:
        policy, _, metrics = train_selfplay_seed(config, seed, device, log)
        save_policy(out / "checkpoints" / f"{config.algo}_seed{seed}.pt", policy,
                    settings=metrics["settings"],
                    provenance={"algo": config.algo, "seed": seed, "experiment": "ipd-selfplay",
                                "iterations": config.iterations, "torch": str(torch.__version__)},
                    metrics={"mean_reward": metrics["mean_reward"], "p_cooperate": metrics["p_cooperate"]})
        per_seed.append(metrics)
    total = time.perf_counter() - start
    summary = {
        "algo": config.algo,
        "seeds": list(config.seeds),
        "p_cooperate": {s: [m["p_cooperate"][s] for m in per_seed] for s in STATE_NAMES},
        "mean_reward": [m["mean_reward"] for m in per_seed],
        "tit_for_tat_like": [tit_for_tat_like(m["p_cooperate"], m["mean_reward"]) for m in per_seed],
        "mutual_defection": [m["mean_reward"] <= -1.8 for m in per_seed],
        "total_seconds": total,
        "device": str(device),
    }
    run.write_metrics({**summary, "per_seed": per_seed})
    plot_p_cooperate(summary["p_cooperate"], run.path("p_cooperate.png"),
                     f"{config.algo} self-play, {len(config.seeds)} seeds")
    log(f"[{config.algo}] {sum(summary['tit_for_tat_like'])}/{len(per_seed)} seeds tit-for-tat-like, "
        f"{sum(summary['mutual_defection'])}/{len(per_seed)} in mutual defection; "
        f"total time {total:.1f} s on {device}")
    return summary


def plot_p_cooperate(p_cooperate: dict[str, list[float]], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    means = [sum(v) / len(v) for v in p_cooperate.values()]
    lows = [m - min(v) for m, v in zip(means, p_cooperate.values())]
    highs = [max(v) - m for m, v in zip(means, p_cooperate.values())]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    x = range(len(STATE_NAMES))
    ax.bar(x, means, yerr=[lows, highs], capsize=4, color="#4c72b0", alpha=0.8)
    for i, values in enumerate(p_cooperate.values()):
        ax.scatter([i] * len(values), values, s=10, color="black", zorder=3)
    ax.set_xticks(list(x), STATE_NAMES)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("P(cooperate)")
    ax.set_xlabel("previous round (own move, opponent's move)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- league ----------------------------------------------------------------------------------


def classic_players(game: Game) -> dict[str, Policy]:
    return {"tit_for_tat": TitForTat(game), "always_cooperate": AlwaysCooperate(game),
            "always_defect": AlwaysDefect(game), "random": RandomIPD(game),
            "win_stay_lose_shift": WinStayLoseShift(game)}


def run_league(out: str | Path, *, seed: int = 0, iterations: int | None = None,
               rounds: int = 50, episodes: int = 1024, device_name: str = "cpu",
               checkpoints: dict[str, str] | None = None,
               log: Callable[[str], None] = print) -> dict:
    """Train one self-play run per algorithm (or load given checkpoints), then play every pair.

    Entry [i][j] of the matrix is the mean reward per round of player i against player j."""
    from .policies.checkpoint import load_policy

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(device_name)
    game = ipd_game(rounds)
    players: dict[str, Policy] = {}
    trained_from = {}
    start = time.perf_counter()
    for algo in ALGORITHMS:
        if checkpoints and algo in checkpoints:
            players[algo] = load_policy(checkpoints[algo], device)
            trained_from[algo] = checkpoints[algo]
            continue
        config = SelfPlayConfig(algo=algo, seeds=[seed], rounds=rounds, device=device_name,
                                iterations=iterations)
        policy, _, metrics = train_selfplay_seed(config, seed, device, log)
        save_policy(out / "checkpoints" / f"{algo}_seed{seed}.pt", policy, settings=metrics["settings"],
                    provenance={"algo": algo, "seed": seed, "experiment": "ipd-league"},
                    metrics={"mean_reward": metrics["mean_reward"]})
        players[algo] = policy
        trained_from[algo] = f"trained here, seed {seed}"
    players.update(classic_players(game))
    names = list(players)
    generator = torch.Generator(device=device).manual_seed(seed)
    matrix = [[0.0] * len(names) for _ in names]
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if j < i:
                continue
            reward_a, reward_b = evaluate(game, players[a], players[b], episodes, generator, device)
            matrix[i][j], matrix[j][i] = reward_a, reward_b
            if i == j:
                matrix[i][j] = (reward_a + reward_b) / 2
    total = time.perf_counter() - start
    run = RunDir(out, device)
    run.write_config({"seed": seed, "iterations": iterations, "rounds": rounds, "episodes": episodes,
                      "device": str(device), "players": names, "trained_from": trained_from,
                      "payoffs": PAPER_PAYOFFS})
    with open(out / "league.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row_vs_column", *names])
        for name, row in zip(names, matrix):
            writer.writerow([name, *[f"{v:.4f}" for v in row]])
    summary = {"players": names, "matrix": matrix,
               "mean_reward": {n: sum(r) / len(r) for n, r in zip(names, matrix)},
               "total_seconds": total, "device": str(device)}
    run.write_metrics(summary)
    plot_league(names, matrix, run.path("league.png"))
    log(f"[league] {len(names)} players, total time {total:.1f} s")
    return summary


def plot_league(names: list[str], matrix: list[list[float]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6))
    image = ax.imshow(matrix, cmap="viridis", vmin=-3, vmax=0)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if value < -1.5 else "black")
    ax.set_xlabel("opponent")
    ax.set_ylabel("player (mean reward per round)")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
