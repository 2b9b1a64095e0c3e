"""Two policies playing a symmetric simultaneous game (the IPD) for a batch of episodes.

Both players go through the common policy interface (DESIGN.md, principle 2), so the same function
plays a learner against itself, against a classic strategy, or against a human surrogate. The
game's rules see player B in the adversary seat and player A in the participant seat; player A's
observation is the game's observation of the mirrored state (the two seats' "last" fields
swapped), so each player sees itself as "own" and the other as "opponent". This is only meaningful
for symmetric simultaneous games, which is checked.

A `Trajectory` is one player's view of the batch: the features it saw before each trial plus the
features after the last one (for bootstrapping critics), its actions and the probabilities it
gave them, its own rewards and the opponent's rewards.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from ..games.base import Game, State, TurnOrder
from ..policies.base import Policy, sample_actions


@dataclass
class Trajectory:
    features: Tensor  # [B, T + 1, F]
    actions: Tensor  # [B, T] long
    log_probs: Tensor  # [B, T], of the actions taken, under the policy that acted
    rewards: Tensor  # [B, T], own
    opponent_rewards: Tensor  # [B, T]
    action_masks: Tensor | None = None  # [B, T, A] bool, the actions the rules allowed (None: all)
    dones: Tensor | None = None  # [B, T] bool, the episode really ended after trial t (None: it
    #   never does within the batch, which is then a window into an indefinitely repeated game)

    @property
    def mean_reward(self) -> float:
        return float(self.rewards.mean())

    def episodes(self, index: Tensor) -> Trajectory:
        """The episodes (rows) at `index`."""
        fields = (getattr(self, field.name) for field in dataclasses.fields(self))
        return Trajectory(*(None if value is None else value[index] for value in fields))


def mirror(state: State) -> State:
    """The same state seen from the participant seat."""
    return dataclasses.replace(
        state,
        last_participant_action=state.last_adversary_action,
        last_adversary_action=state.last_participant_action,
        last_participant_reward=state.last_adversary_reward,
        last_adversary_reward=state.last_participant_reward,
    )


def play(game: Game, policy_a: Policy, policy_b: Policy, batch_size: int, *,
         generator: torch.Generator | None = None, device: torch.device | str = "cpu",
         ) -> tuple[Trajectory, Trajectory]:
    """Play `batch_size` fixed-length episodes; return player A's and player B's trajectories."""
    spec = game.spec
    if spec.turn_order is not TurnOrder.SIMULTANEOUS or spec.participant_actions != spec.adversary_actions:
        raise ValueError(f"{spec.label} is not a symmetric simultaneous game")
    state = game.init(batch_size, generator=generator, device=device)
    if bool((state.length != game.max_trials).any()):
        raise ValueError("play needs fixed-length episodes (no continuation_probability)")
    memory_a, memory_b = policy_a.reset(batch_size, device), policy_b.reset(batch_size, device)
    record = {k: [] for k in ("fa", "fb", "aa", "ab", "la", "lb", "ra", "rb")}
    for _ in range(game.max_trials):
        obs_a, obs_b = game.observe(mirror(state)), game.observe(state)
        probs_a, memory_a = policy_a.act(obs_a, memory_a)
        probs_b, memory_b = policy_b.act(obs_b, memory_b)
        action_a = sample_actions(probs_a, obs_a.action_mask, generator)
        action_b = sample_actions(probs_b, obs_b.action_mask, generator)
        state, result = game.step(state, action_a, action_b)
        record["fa"].append(obs_a.features)
        record["fb"].append(obs_b.features)
        record["aa"].append(action_a)
        record["ab"].append(action_b)
        record["la"].append(probs_a.gather(1, action_a[:, None]).squeeze(1).clamp_min(1e-12).log())
        record["lb"].append(probs_b.gather(1, action_b[:, None]).squeeze(1).clamp_min(1e-12).log())
        record["ra"].append(result.participant_reward)
        record["rb"].append(result.adversary_reward)
    record["fa"].append(game.observe(mirror(state)).features)
    record["fb"].append(game.observe(state).features)
    s = {k: torch.stack(v, dim=1) for k, v in record.items()}
    return (Trajectory(s["fa"], s["aa"], s["la"], s["ra"], s["rb"]),
            Trajectory(s["fb"], s["ab"], s["lb"], s["rb"], s["ra"]))
