"""The one interface every adversary follows (DESIGN.md, principle 2).

    policy = make_policy("tit_for_tat", game, params)
    state = policy.reset(batch_size)                 # start a batch of episodes
    probs, state = policy.act(observation, state)     # [B, n_actions], and the new state
    action = sample_actions(probs, observation.action_mask, generator)

A policy returns action *probabilities* and never samples itself. That keeps every policy
replayable: to rebuild a participant's game after a reconnect the server feeds the stored trials
through `act` and takes the stored action instead of sampling, so the policy's recurrent state
ends up exactly where it was. It also gives the trial log the adversary's probabilities.

The recurrent state is whatever the policy needs (None for memoryless ones, a tensor for grim
trigger, a GRU hidden state for a trained network); callers only pass it back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from ..games import Game, Observation
from ..params import Params, ParamsError


class PolicyParamsError(ParamsError):
    """A policy was given parameters it cannot use, or a game it cannot play."""


@dataclass(frozen=True)
class NoParams(Params):
    """For policies without parameters."""


class Policy(ABC):
    """An adversary for one game. Subclasses set `name`, `label`, `games` and `params_class`."""

    name: ClassVar[str]
    label: ClassVar[str]
    games: ClassVar[tuple[str, ...]]  # names of the games it can play
    params_class: ClassVar[type[Params]] = NoParams

    def __init__(self, game: Game, params: dict[str, Any] | None = None):
        if game.spec.name not in self.games:
            raise PolicyParamsError(
                f"{self.label} cannot play {game.spec.label}; it plays {', '.join(self.games)}"
            )
        self.game = game
        try:
            self.params = self.params_class.from_mapping(params)
        except ParamsError as error:
            raise PolicyParamsError(f"{self.label}: {error}") from None

    @property
    def n_actions(self) -> int:
        return len(self.game.spec.adversary_actions)

    def reset(self, batch_size: int, device: torch.device | str = "cpu") -> Any:
        """The recurrent state at the start of `batch_size` episodes."""
        return None

    @abstractmethod
    def act(self, observation: Observation, state: Any) -> tuple[Tensor, Any]:
        """Action probabilities [B, n_actions] and the state after this observation."""

    def allowed_actions(self, observation: Observation) -> Tensor:
        """[B, n_actions] bool: the actions this policy may take, to which `act` gives all its
        probability: the game's rules, and a trained adversary's own rules on its schedule
        (policies/schedule_rules.py). A trainer masks its updates with it."""
        return observation.action_mask

    def act_with_features(self, observation: Observation, state: Any) -> tuple[Tensor, Any, Tensor]:
        """`act`, plus the feature vectors [B, F] the decision was based on (what a trainer
        records). Most policies read the game's observation features; a shaping adversary
        adds its model of the participant."""
        probs, state = self.act(observation, state)
        return probs, state, observation.features

    # --- checkpoints (policies/checkpoint.py); only policies with trained weights have them ----

    def checkpoint_fields(self) -> dict[str, Any]:
        """What a checkpoint needs besides the game, the settings and `net`'s weights: at least
        "policy_params", and whatever `from_checkpoint` needs to rebuild the network."""
        raise PolicyParamsError(f"{self.label} has no trained weights to save")

    @classmethod
    def from_checkpoint(cls, game: Game, spec: dict[str, Any]) -> Policy:
        """The policy (with an untrained `net` of the right shape) described by a checkpoint."""
        return cls(game, spec["policy_params"])

    def _deterministic(self, action: Tensor) -> Tensor:
        return torch.nn.functional.one_hot(action, self.n_actions).float()


def sample_actions(probs: Tensor, mask: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Draw one action per row from `probs` restricted to the actions `mask` allows.

    A row whose allowed actions all have probability zero falls back to uniform over the allowed
    ones, so a rule-abiding action always comes out.
    """
    masked = probs * mask
    total = masked.sum(dim=1, keepdim=True)
    uniform = mask.float() / mask.sum(dim=1, keepdim=True)
    masked = torch.where(total > 0, masked / total.clamp_min(1e-12), uniform)
    return torch.multinomial(masked, 1, generator=generator).squeeze(1)
