"""An adversary against a model participant, for a batch of episodes.

This is the vectorised environment of the training loop and the evaluator: thousands of model
participants (synthetic learners or the human surrogate, shaping_core/participants.py) play the
batched game rules against one adversary policy. Each trial is played by `stepper.Stepper` in the
game's turn order, as in live play. The adversary samples only actions the rules allow, so the
applied action is the one it chose. Episodes of different lengths run until all are done; a done
episode's trials are marked in `active` and earn nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .games import Game
from .participants import ParticipantModel, participant_view
from .policies.base import Policy
from .stepper import Stepper


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
    adversary_masks: Tensor  # [B, T, A] bool, the actions the adversary could take (Policy.allowed_actions)

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
                  generator: torch.Generator | None = None, device: torch.device | str = "cpu",
                  lengths: Tensor | None = None, adversary_seeds: Sequence[int] | None = None) -> Episodes:
    """Play `batch_size` episodes of `participant` against `adversary`.

    To play episodes as the live server played them: `lengths` gives each episode's length (else
    drawn with `generator`), and `adversary_seeds` each episode's seed, from which the adversary's
    draws are made trial by trial as in live play (else with `generator`)."""
    stepper = Stepper(game, adversary)
    state = game.init(batch_size, generator=generator, device=device, length=lengths)
    p_state = participant.reset(batch_size, generator=generator, device=device)
    a_state = adversary.reset(batch_size, device)
    record: dict[str, list[Tensor]] = {k: [] for k in ("pa", "aa", "pr", "ar", "on", "f", "lp", "m")}

    def participant_turn(adversary_action: Tensor | None) -> Tensor:
        nonlocal p_state
        probs, p_state = participant.act(participant_view(game, state, adversary_action), p_state)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)

    # Every step advances each running episode by one trial, so all are done after exactly the
    # longest episode's trials. Reading that number once, instead of testing `state.done.all()`
    # every trial, saves a reduction per trial on the CPU and a host-device sync per trial on CUDA.
    n_trials = int((state.length - state.trial).max()) if batch_size else 0
    for _ in range(n_trials):
        if stepper.participant_sees_adversary:
            pending = stepper.decide(state, a_state)
            a_action = pending.draw(generator, seeds=adversary_seeds)
            p_action = participant_turn(a_action)
        else:  # the participant chooses first (in simultaneous games, without seeing the adversary)
            p_action = participant_turn(None)
            pending = stepper.decide(state, a_state, p_action)
            a_action = pending.draw(generator, seeds=adversary_seeds)
        a_state = pending.policy_state
        active = ~state.done
        state, result = stepper.finish(state, p_action, a_action)
        record["f"].append(pending.features)
        record["lp"].append(pending.probs.gather(1, a_action[:, None]).squeeze(1).clamp_min(1e-12).log())
        record["m"].append(adversary.allowed_actions(pending.observation))
        record["pa"].append(p_action)
        record["aa"].append(result.adversary_action)
        record["pr"].append(result.participant_reward)
        record["ar"].append(result.adversary_reward)
        record["on"].append(active)

    record["f"].append(stepper.final_features(state, a_state))
    stacked = {k: torch.stack(v, dim=1) for k, v in record.items()}
    return Episodes(
        participant_actions=stacked["pa"], adversary_actions=stacked["aa"],
        participant_rewards=stacked["pr"], adversary_rewards=stacked["ar"], active=stacked["on"],
        adversary_features=stacked["f"], adversary_log_probs=stacked["lp"],
        adversary_masks=stacked["m"],
    )
