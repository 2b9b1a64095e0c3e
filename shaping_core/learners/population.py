"""A population of several participant models: each episode is one person of one model.

Robust adversaries are trained against people they cannot identify in advance (domain
randomisation over styles of learner): the human surrogate together with families of the learner
zoo, say. `Population` draws each episode's model at `reset` (with the simulation's generator, by
weight) and, every trial, returns that model's probabilities for that episode:

    population = Population(game, [surrogate_participant, *(f.make(game) for f in families)])

Every member runs on the whole batch and the rows of the others are dropped, which costs one
`act` per member per trial; members are cheap next to the surrogate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..games import Game
from ..participants import ParticipantModel, ParticipantParamsError, ParticipantView


@dataclass(frozen=True)
class PopulationState:
    member: Tensor  # [B] long: which member each episode's person is
    states: tuple[Any, ...]  # every member's state, over the whole batch


class Population(ParticipantModel):
    name, label = "population", "Population of participant models"

    def __init__(self, game: Game, members: Sequence[ParticipantModel], weights: Sequence[float] | None = None):
        if not members:
            raise ParticipantParamsError("a population needs at least one member")
        self.games = (game.spec.name,)
        super().__init__(game)
        for member in members:
            if member.game.spec.name != game.spec.name or member.game.params != game.params:
                raise ParticipantParamsError(f"{member.label} plays another game than {game.spec.label} "
                                             f"{game.params.to_mapping()}")
        weights = [1.0] * len(members) if weights is None else list(weights)
        if len(weights) != len(members) or any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ParticipantParamsError(f"a population needs one non-negative weight per member "
                                         f"({len(members)}), not all 0; got {weights}")
        self.members = list(members)
        self.weights = torch.tensor(weights, dtype=torch.float64) / sum(weights)

    def reset(self, batch_size, *, generator=None, device="cpu") -> PopulationState:
        where = generator.device if generator is not None else device
        member = torch.multinomial(self.weights.float().to(where), batch_size, replacement=True,
                                   generator=generator).to(device)
        states = tuple(m.reset(batch_size, generator=generator, device=device) for m in self.members)
        return PopulationState(member, states)

    def act(self, view: ParticipantView, state: PopulationState) -> tuple[Tensor, PopulationState]:
        probs, states = [], []
        for member, member_state in zip(self.members, state.states):
            member_probs, member_state = member.act(view, member_state)
            probs.append(member_probs)
            states.append(member_state)
        stacked = torch.stack(probs, dim=1)  # [B, members, actions]
        rows = torch.arange(stacked.shape[0], device=stacked.device)
        return stacked[rows, state.member], PopulationState(state.member, tuple(states))

    def select(self, state: PopulationState, rows: Tensor) -> PopulationState:
        return PopulationState(state.member[rows],
                               tuple(m.select(s, rows) for m, s in zip(self.members, state.states)))

    def concatenate(self, states: Sequence[PopulationState]) -> PopulationState:
        return PopulationState(torch.cat([s.member for s in states]),
                               tuple(m.concatenate([s.states[i] for s in states])
                                     for i, m in enumerate(self.members)))
