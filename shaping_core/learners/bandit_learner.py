"""The common shape of the bandit zoo's learners (learners/bandit_zoo.py): a small memory per
episode, one rule that learns from an outcome and one that chooses from the memory.

    memory = initial_memory(params)
    memory = learn(memory, action, reward, params)     # after each trial (action 0/1, reward 0/1)
    probs  = choose(memory, params)                    # [B, 2], before each trial

The memory holds everything a choice depends on (values, counts, and the previous action where
perseveration reads it), so a participant's state is exactly its memory. That is what lets
learners/tabular_form.py build the dynamic-programming form of a learner from these same two
rules, with no second copy of the equations to drift apart.

Parameters are drawn per episode at `reset` (learners/base.py) and travel in the state.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor

from ..participants import ParticipantModel, ParticipantView
from .base import draw_all

Memory = dict[str, Tensor]
"""A learner's memory: tensors [B] or [B, 2] (one column per option)."""
Drawn = dict[str, Tensor]
"""Per-episode parameter values [B], by name."""


@dataclass(frozen=True)
class MemoryState:
    """A batch of episodes: each one's memory and drawn parameters."""

    memory: Memory
    params: Drawn


class BanditLearner(ParticipantModel):
    """A bandit learner written as `initial_memory`, `learn` and `choose`. Subclasses set `name`,
    `label` and `params_class`, and may override `draw` (how parameters are drawn)."""

    games = ("bandit",)

    @abstractmethod
    def initial_memory(self, params: Drawn) -> Memory:
        """The memory before the first trial (batch size, dtype and device from `params`)."""

    @abstractmethod
    def learn(self, memory: Memory, action: Tensor, reward: Tensor, params: Drawn) -> Memory:
        """The memory after choosing `action` ([B] long, 0 or 1) and seeing `reward` ([B] float,
        0 or 1)."""

    @abstractmethod
    def choose(self, memory: Memory, params: Drawn) -> Tensor:
        """[B, 2] choice probabilities."""

    def draw(self, batch_size: int, generator: torch.Generator | None,
             device: torch.device | str) -> Drawn:
        return draw_all(self.params, batch_size, generator, device)

    def reset(self, batch_size, *, generator=None, device="cpu") -> MemoryState:
        params = self.draw(batch_size, generator, device)
        return MemoryState(self.initial_memory(params), params)

    def act(self, view: ParticipantView, state: MemoryState) -> tuple[Tensor, MemoryState]:
        learned = view.last_action >= 0  # nothing to learn before the first trial
        after = self.learn(state.memory, view.last_action.clamp_min(0), view.last_reward.float(),
                           state.params)
        memory = {name: torch.where(learned.view(-1, *[1] * (value.dim() - 1)), after[name], value)
                  for name, value in state.memory.items()}
        return self.choose(memory, state.params), MemoryState(memory, state.params)


def batch_like(params: Drawn) -> Tensor:
    """A [B] parameter tensor, to read the batch size, dtype and device from."""
    return next(iter(params.values()))


def chosen_one_hot(action: Tensor, like: Tensor) -> Tensor:
    """[B, 2] one-hot of `action` (0 or 1) in `like`'s dtype."""
    return torch.nn.functional.one_hot(action, 2).to(like.dtype)


def perseveration_logits(values: Tensor, beta: Tensor, kappa: Tensor, last_action: Tensor) -> Tensor:
    """[B, 2] beta * values[a] + kappa * [a == last action] (no bonus before the first trial)."""
    last = torch.nn.functional.one_hot(last_action.clamp_min(0), 2).to(values.dtype)
    last = last * (last_action >= 0).unsqueeze(1)
    return beta.unsqueeze(1) * values + kappa.unsqueeze(1) * last
