"""The best target-choice rate any adversary can reach against a known Q-learner on the bandit.

The choice-engineering bandit against a Q-learner with fixed, known parameters
(shaping_core/learners/q_learning.py) is a fully observed decision problem for the adversary: the
learner's whole state is (Q of the target, Q of the other option, its previous choice), and the
game's is the trial and the rewards left per option. Dynamic programming over that state, with the
two Q values on a grid of --grid points (linear interpolation between them), gives the optimal
expected target rate: an upper bound for every adversary, trained or hand-written, that must learn
or guess the learner's state instead of reading it. It says whether a target rate asked of an
adversary is possible at all for a given learner (the transfer test of docs/loop.md).

    python experiments/bandit_optimum.py --out out/bandit_optimum \
        --alpha 0.3 --beta 4 8 --kappa 0.3 [--grid 21] [--episodes 4096] [--seed 0]

Every combination of the listed parameters is solved. For each, the optimal policy found on the
grid (`OptimalAdversary`, which reads the learner's true Q values) then plays --episodes episodes
against the learner itself on the platform's game rules, next to the budget-respecting random
schedule: the simulated rate checks the grid's value (they differ only by the grid's error and
sampling noise). Writes config.json, metrics.json and optimum.png to --out; the last line printed
is JSON with, per parameter set, the optimum, the simulated rate and the random schedule's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from pathlib import Path

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shaping_core.adversary_training import evaluate  # noqa: E402
from shaping_core.arguments import positive  # noqa: E402
from shaping_core.games import make_game  # noqa: E402
from shaping_core.games.bandit import BanditParams  # noqa: E402
from shaping_core.games.budget import action_to_bits, allowed  # noqa: E402
from shaping_core.learners import make_learner  # noqa: E402
from shaping_core.learners.q_learning import QLearningParams  # noqa: E402
from shaping_core.params import ParamsError  # noqa: E402
from shaping_core.policies import make_policy  # noqa: E402
from shaping_core.policies.base import Policy  # noqa: E402
from shaping_core.policies.shaping import view_from_observation  # noqa: E402

NONE, TARGET, OTHER = 0, 1, 2  # the learner's previous choice, as indexed in the value table
UNREACHABLE = -1e9


def solve(alpha: float, beta: float, kappa: float, params: BanditParams, grid: int) -> Tensor:
    """Optimal values V[t, q_target, q_other, previous, target_rewards_left, other_rewards_left]:
    the expected number of target choices from trial t on, under the best adversary. Indices of
    the two Q values are grid points on [0, 1] (a Q-learner's values stay there with 0/1 rewards)."""
    trials, budget = params.trials, params.rewards_per_option
    q = torch.linspace(0, 1, grid, dtype=torch.float64)
    previous = torch.arange(3)
    # P(target) on the grid [q_target, q_other, previous]: beta * Q + kappa on the repeated option.
    logit = (beta * (q[:, None, None] - q[None, :, None])
             + kappa * ((previous == TARGET).double() - (previous == OTHER).double())[None, None, :])
    p_target = torch.sigmoid(logit)
    budgets = torch.arange(budget + 1)
    values = torch.zeros(trials + 1, grid, grid, 3, budget + 1, budget + 1, dtype=torch.float64)
    for t in reversed(range(trials)):
        trials_left = trials - t
        after = values[t + 1]
        best = torch.full_like(after, UNREACHABLE)
        may_withhold, may_place = allowed(budgets[:, None], torch.full_like(budgets, trials_left))
        may = (may_withhold[:, 0], may_place[:, 0])  # [budget + 1] each, by rewards left
        for reward_target, reward_other in itertools.product((0, 1), repeat=2):
            both_allowed = may[reward_target][:, None] & may[reward_other][None, :]
            # The learner picks the target: its Q moves toward the target's reward.
            chose_target = _spend(_interpolate(after[:, :, TARGET], q, alpha, reward_target, dim=0),
                                  reward_target, reward_other)
            chose_other = _spend(_interpolate(after[:, :, OTHER], q, alpha, reward_other, dim=1),
                                 reward_target, reward_other)
            value = (p_target[..., None, None] * (1 + chose_target[:, :, None])
                     + (1 - p_target[..., None, None]) * chose_other[:, :, None])
            best = torch.maximum(best, value.masked_fill(~both_allowed, UNREACHABLE))
        values[t] = best
    return values


def _interpolate(table: Tensor, q: Tensor, alpha: float, reward: int, dim: int) -> Tensor:
    """table[..] read at Q' = Q + alpha (reward - Q) along `dim` (one of the two Q axes)."""
    position = (q + alpha * (reward - q)) * (len(q) - 1)
    low = position.floor().long().clamp(0, len(q) - 2)
    weight = (position - low).view(*([1] * dim), -1, *([1] * (table.dim() - dim - 1)))
    return table.index_select(dim, low) * (1 - weight) + table.index_select(dim, low + 1) * weight


def _spend(table: Tensor, reward_target: int, reward_other: int) -> Tensor:
    """table[..., b_target, b_other] read at the budgets left after placing the rewards."""
    if reward_target:
        table = torch.nn.functional.pad(table[..., :-1, :], (0, 0, 1, 0), value=UNREACHABLE)
    if reward_other:
        table = torch.nn.functional.pad(table[..., :, :-1], (1, 0), value=UNREACHABLE)
    return table


class OptimalAdversary(Policy):
    """Acts on the solved values, reading the learner's true Q values (an oracle: it runs its own
    copy of the deterministic learner on the observed history). Each trial it takes the allowed
    action with the best one-step lookahead, interpolating V between grid points."""

    name, label, games = "bandit_optimum", "Optimal adversary (knows the Q-learner)", ("bandit",)

    def __init__(self, game, values: Tensor, learner_params: dict[str, float]):
        super().__init__(game)
        self.values = values.float()
        self.learner = make_learner("q_learning", game, learner_params)
        self.alpha = learner_params["alpha"]

    def reset(self, batch_size, device="cpu"):
        return self.learner.reset(batch_size, device=device)

    @torch.no_grad()
    def act(self, observation, state):
        probs, state = self.learner.act(view_from_observation(self.game, observation), state)
        target = self.game.params.target_option
        q_target, q_other = state.q[:, 0, target], state.q[:, 0, 1 - target]
        p_target = probs[:, target]
        after = observation.trial.clamp_max(self.game.params.trials - 1) + 1
        budget_left = observation.info["budget_left"]
        scores = []
        for rewards in action_to_bits(torch.arange(4), 2).long().tolist():  # bit k: option k
            reward_target, reward_other = rewards[target], rewards[1 - target]
            b_target = (budget_left[:, target] - reward_target).clamp_min(0)
            b_other = (budget_left[:, 1 - target] - reward_other).clamp_min(0)
            chose_target = self._read(after, q_target + self.alpha * (reward_target - q_target),
                                      q_other, TARGET, b_target, b_other)
            chose_other = self._read(after, q_target, q_other + self.alpha * (reward_other - q_other),
                                     OTHER, b_target, b_other)
            scores.append(p_target * (1 + chose_target) + (1 - p_target) * chose_other)
        scores = torch.stack(scores, dim=1).masked_fill(~observation.action_mask, float("-inf"))
        return self._deterministic(scores.argmax(dim=1)), state

    def _read(self, trial: Tensor, q_target: Tensor, q_other: Tensor, previous: int,
              b_target: Tensor, b_other: Tensor) -> Tensor:
        """V[trial, q_target, q_other, previous, b_target, b_other], bilinear in the two Qs."""
        grid = self.values.shape[1]
        x, y = q_target.clamp(0, 1) * (grid - 1), q_other.clamp(0, 1) * (grid - 1)
        x0, y0 = x.floor().long().clamp_max(grid - 2), y.floor().long().clamp_max(grid - 2)
        wx, wy = x - x0, y - y0

        def at(i, j):
            return self.values[trial, i, j, previous, b_target, b_other]

        return ((1 - wx) * (1 - wy) * at(x0, y0) + wx * (1 - wy) * at(x0 + 1, y0)
                + (1 - wx) * wy * at(x0, y0 + 1) + wx * wy * at(x0 + 1, y0 + 1))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--alpha", type=float, nargs="+", default=[0.3])
    parser.add_argument("--beta", type=float, nargs="+", default=[4.0])
    parser.add_argument("--kappa", type=float, nargs="+", default=[0.3])
    parser.add_argument("--grid", type=positive, default=21, help="points per Q axis (at least 2)")
    parser.add_argument("--episodes", type=positive, default=4096, help="simulated episodes per check")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.grid < 2:
        parser.error(f"--grid must be at least 2, got {args.grid}")
    for alpha, beta, kappa in itertools.product(args.alpha, args.beta, args.kappa):
        try:
            QLearningParams.from_mapping({"alpha": alpha, "beta": beta, "kappa": kappa})
        except ParamsError as error:
            parser.error(str(error))
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    game = make_game("bandit", {})
    config = {"args": vars(args), "game_params": game.params.to_mapping(),
              "environment": {"torch": str(torch.__version__), "python": platform.python_version()}}
    (out / "config.json").write_text(json.dumps(config, indent=2))
    results = []
    for alpha, beta, kappa in itertools.product(args.alpha, args.beta, args.kappa):
        learner_params = {"alpha": alpha, "beta": beta, "kappa": kappa}
        started = time.perf_counter()
        values = solve(alpha, beta, kappa, game.params, args.grid)
        optimum = float(values[0, 0, 0, NONE, -1, -1]) / game.params.trials
        learner = make_learner("q_learning", game, learner_params)
        simulated = evaluate(game, OptimalAdversary(game, values, learner_params), learner,
                             args.episodes, seed=args.seed)
        random = evaluate(game, make_policy("random_schedule", game), learner, args.episodes,
                          seed=args.seed)
        row = {"learner_params": learner_params, "optimum": round(optimum, 4),
               "simulated": round(simulated["target_rate"], 4),
               "simulated_std": round(simulated["adversary_return_std"] / game.params.trials, 4),
               "random_schedule": round(random["target_rate"], 4),
               "seconds": round(time.perf_counter() - started, 1)}
        print(json.dumps(row), flush=True)
        results.append(row)
    metrics = {"grid": args.grid, "episodes": args.episodes, "results": results}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot(results, out / "optimum.png")
    print(json.dumps(results))
    return metrics


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    symbols = {"alpha": "α", "beta": "β", "kappa": "κ"}
    labels = [", ".join(f"{symbols[k]} {v:g}" for k, v in row["learner_params"].items()) for row in results]
    x = range(len(results))
    fig, ax = plt.subplots(figsize=(max(6, 1.5 * len(results)), 4.2))
    ax.bar([i - 0.27 for i in x], [r["optimum"] for r in results], 0.27, label="optimum (grid DP)")
    ax.bar(x, [r["simulated"] for r in results], 0.27, yerr=[r["simulated_std"] for r in results],
           label="optimal policy, simulated (± std of episodes)")
    ax.bar([i + 0.27 for i in x], [r["random_schedule"] for r in results], 0.27, label="random schedule")
    ax.set_xticks(list(x), labels, rotation=20, ha="right")
    ax.set(ylabel="target-choice rate", ylim=(0.4, 1.0),
           title="Bandit: the best target rate against a known Q-learner")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
