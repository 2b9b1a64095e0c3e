"""An adversary against a model participant, for a batch of episodes.

This is the vectorised environment of the training loop and the evaluator: thousands of model
participants (synthetic learners or the human surrogate, shaping_core/participants.py) play the
batched game rules against one adversary policy. Each trial follows the game's turn order:

- SIMULTANEOUS (IPD): both decide from history, then the trial is played;
- ADVERSARY_FIRST (bandit, go/no-go): the adversary sets up the trial, then the participant
  chooses, seeing the cue if the game shows one;
- PARTICIPANT_FIRST (trust): the participant chooses, then the adversary responds to it.

The adversary samples only actions the rules allow (`sample_actions` with the game's mask), so the
applied action is the one it chose. Episodes of different lengths run until all are done; a done
episode's trials are marked in `active` and earn nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .games import Game, TurnOrder
from .participants import ParticipantModel, participant_view
from .policies.base import Policy, sample_actions


@dataclass
class Episodes:
    """A batch of played episodes. T is the longest episode; [B, T] unless said otherwise."""

    participant_actions: Tensor  # long
    adversary_actions: Tensor  # long, as applied
    participant_rewards: Tensor
    adversary_rewards: Tensor
    active: Tensor  # bool: the trial was played (False after an episode's end)
    adversary_features: Tensor  # [B, T + 1, F] the adversary's features before each trial and
    #   after the last (what a learned adversary reads; see policies/gru.py)
    adversary_log_probs: Tensor  # log-probability of the adversary's action under its policy
    adversary_masks: Tensor  # [B, T, A] bool, the actions the rules allowed

    @property
    def lengths(self) -> Tensor:
        return self.active.sum(dim=1)

    def participant_return(self) -> Tensor:
        """[B] total points of each participant."""
        return self.participant_rewards.sum(dim=1)

    def adversary_return(self) -> Tensor:
        return self.adversary_rewards.sum(dim=1)


@torch.no_grad()
def play_episodes(game: Game, participant: ParticipantModel, adversary: Policy, batch_size: int, *,
                  generator: torch.Generator | None = None,
                  device: torch.device | str = "cpu") -> Episodes:
    """Play `batch_size` episodes of `participant` against `adversary`."""
    order = game.spec.turn_order
    state = game.init(batch_size, generator=generator, device=device)
    p_state = participant.reset(batch_size, generator=generator, device=device)
    a_state = adversary.reset(batch_size, device)
    record: dict[str, list[Tensor]] = {k: [] for k in ("pa", "aa", "pr", "ar", "on", "f", "lp", "m")}

    def adversary_turn(participant_action: Tensor | None):
        nonlocal a_state
        observation = game.observe(state, participant_action)
        probs, a_state, features = adversary.act_with_features(observation, a_state)
        action = sample_actions(probs, observation.action_mask, generator)
        record["f"].append(features)
        record["lp"].append(probs.gather(1, action[:, None]).squeeze(1).clamp_min(1e-12).log())
        record["m"].append(observation.action_mask)
        return action

    def participant_turn(adversary_action: Tensor | None):
        nonlocal p_state
        probs, p_state = participant.act(participant_view(game, state, adversary_action), p_state)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)

    # Every step advances each running episode by one trial, so all are done after exactly the
    # longest episode's trials. Reading that number once, instead of testing `state.done.all()`
    # every trial, saves a reduction per trial on the CPU and a host-device sync per trial on CUDA.
    n_trials = int((state.length - state.trial).max()) if batch_size else 0
    for _ in range(n_trials):
        if order is TurnOrder.PARTICIPANT_FIRST:
            p_action = participant_turn(None)
            a_action = adversary_turn(p_action)
        elif order is TurnOrder.ADVERSARY_FIRST:
            a_action = adversary_turn(None)
            p_action = participant_turn(a_action)
        else:
            p_action = participant_turn(None)
            a_action = adversary_turn(None)
        active = ~state.done
        state, result = game.step(state, p_action, a_action)
        record["pa"].append(p_action)
        record["aa"].append(result.adversary_action)
        record["pr"].append(result.participant_reward)
        record["ar"].append(result.adversary_reward)
        record["on"].append(active)

    # The features after the last trial, for bootstrapping critics.
    final_action = (torch.zeros(batch_size, dtype=torch.long, device=state.device)
                    if order is TurnOrder.PARTICIPANT_FIRST else None)
    observation = game.observe(state, final_action)
    record["f"].append(adversary.act_with_features(observation, a_state)[2])
    stacked = {k: torch.stack(v, dim=1) for k, v in record.items()}
    return Episodes(
        participant_actions=stacked["pa"], adversary_actions=stacked["aa"],
        participant_rewards=stacked["pr"], adversary_rewards=stacked["ar"], active=stacked["on"],
        adversary_features=stacked["f"], adversary_log_probs=stacked["lp"],
        adversary_masks=stacked["m"],
    )
