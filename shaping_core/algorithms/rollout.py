"""Two policies playing a symmetric simultaneous game (the IPD) for a batch of episodes.

Both players go through the common policy interface (DESIGN.md, principle 2), so the same function
plays a learner against itself, against a classic strategy, or against a human surrogate. The
game's rules see player B in the adversary seat and player A in the participant seat; player A's
observation is the game's observation of the mirrored state (the two seats' "last" fields
swapped), so each player sees itself as "own" and the other as "opponent". This is only meaningful
for symmetric simultaneous games, which is checked.

Each seat plays through its own `Stepper` (shaping_core/stepper.py), as in the simulator and live
play: both decide from the state before the trial, then the trial is played with both actions.

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
from ..policies.base import Policy
from ..stepper import Stepper


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
    seat_a, seat_b = Stepper(game, policy_a), Stepper(game, policy_b)
    memory_a, memory_b = policy_a.reset(batch_size, device), policy_b.reset(batch_size, device)
    record = {k: [] for k in ("fa", "fb", "aa", "ab", "la", "lb", "ra", "rb")}
    for _ in range(game.max_trials):
        # Player A sits in the participant seat: it decides from the mirrored state.
        pending_a, pending_b = seat_a.decide(mirror(state), memory_a), seat_b.decide(state, memory_b)
        action_a, action_b = pending_a.draw(generator), pending_b.draw(generator)
        memory_a, memory_b = pending_a.policy_state, pending_b.policy_state
        state, result = seat_b.finish(state, action_a, action_b)
        record["fa"].append(pending_a.observation.features)
        record["fb"].append(pending_b.observation.features)
        record["aa"].append(action_a)
        record["ab"].append(action_b)
        record["la"].append(pending_a.probs.gather(1, action_a[:, None]).squeeze(1).clamp_min(1e-12).log())
        record["lb"].append(pending_b.probs.gather(1, action_b[:, None]).squeeze(1).clamp_min(1e-12).log())
        record["ra"].append(result.participant_reward)
        record["rb"].append(result.adversary_reward)
    record["fa"].append(game.observe(mirror(state)).features)
    record["fb"].append(game.observe(state).features)
    s = {k: torch.stack(v, dim=1) for k, v in record.items()}
    return (Trajectory(s["fa"], s["aa"], s["la"], s["ra"], s["rb"]),
            Trajectory(s["fb"], s["ab"], s["lb"], s["rb"], s["ra"]))
