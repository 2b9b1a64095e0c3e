"""The participant's side of a game: what a person knows when choosing, and the one interface every
model of a person follows.

A *participant model* is anything that chooses the participant's moves: a synthetic learner
(shaping_core/learners, the ground truth of transfer tests and the bots' brains) or the fitted
human surrogate (shaping_core/surrogate). It mirrors the adversary's policy interface:

    state = model.reset(batch_size, generator=g)
    probs, state = model.act(view, state)          # [B, n_participant_actions]
    action = torch.multinomial(probs, 1, generator=g).squeeze(1)

`act` receives a `ParticipantView`: the outcome of the previous trial (own action, own reward, and
the adversary's move if the participant saw it) and, in go/no-go, the stimulus of this trial.
A model learns from the previous outcome at the start of `act`, so nothing else is ever called and
a batch of models can be replayed from stored trials exactly as adversaries are.

Fields of a view have any leading shape: [B] while playing, [N, T] for whole stored sequences
(`sequence_views`), so the surrogate reads both through the same code.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
from torch import Tensor

from .games import Game, Sight, State
from .params import Params, ParamsError


@dataclass(frozen=True)
class ParticipantView:
    """What the participant knows when choosing. Actions are indices, -1 meaning none."""

    trial: Tensor  # long, index of the trial being chosen
    last_action: Tensor  # long, own previous action (-1 before the first trial)
    last_reward: Tensor  # float, own previous reward (0 before the first trial)
    last_seen: Tensor  # long, the adversary's previous move as shown (-1 if none or never shown)
    cue: Tensor  # long, the adversary's move of this trial shown before choosing (-1 if none)
    # float [..., k]: what the participant knows about the game they are in
    # (Game.participant_context: the IPD's payoffs and horizon), None in games without
    context: Tensor | None = None

    def map(self, function) -> ParticipantView:
        """The view with `function` applied to every field that is present (indexing, moving
        to a device)."""
        return ParticipantView(**{f.name: None if getattr(self, f.name) is None
                                  else function(getattr(self, f.name)) for f in fields(self)})


def participant_view(game: Game, state: State, adversary_action: Tensor | None = None) -> ParticipantView:
    """The view of a batch of live episodes. Pass the adversary's action of the current trial in
    games whose participant sees a cue (go/no-go); it is ignored otherwise."""
    sight = game.spec.participant_sees
    none = torch.full_like(state.trial, -1)
    if sight is Sight.CUE and adversary_action is None:
        raise ValueError(f"{game.spec.label}: the participant sees this trial's cue; pass the "
                         "adversary's action")
    return ParticipantView(
        trial=state.trial,
        last_action=state.last_participant_action,
        last_reward=state.last_participant_reward,
        last_seen=none if sight is Sight.NOTHING else state.last_adversary_action,
        cue=adversary_action if sight is Sight.CUE else none,
        context=game.participant_context(state.trial),
    )


def sequence_views(game: Game, participant_actions: Tensor, participant_rewards: Tensor,
                   adversary_actions: Tensor, context: Tensor | None = None) -> ParticipantView:
    """Views [N, T] for whole recorded sequences ([N, T] each): the view of trial t holds trial
    t-1's outcome. Padding after a sequence's end (action -1) does no harm: nothing after it is
    scored. `context` [N, T, k] is each trial's participant context where the sequences come
    from different versions of the game (the human IPD studies); without it, `game`'s own."""
    def shifted(x: Tensor, first) -> Tensor:
        return torch.cat([torch.full_like(x[:, :1], first), x[:, :-1]], dim=1)

    sight = game.spec.participant_sees
    none = torch.full_like(participant_actions, -1)
    trial = torch.arange(participant_actions.shape[1]).expand_as(participant_actions)
    return ParticipantView(
        trial=trial,
        last_action=shifted(participant_actions, -1),
        last_reward=shifted(participant_rewards, 0.0),
        last_seen=none if sight is Sight.NOTHING else shifted(adversary_actions, -1),
        cue=adversary_actions if sight is Sight.CUE else none,
        context=game.participant_context(trial) if context is None else context,
    )


class ParticipantParamsError(ParamsError):
    """A participant model was given parameters it cannot use, or a game it cannot play."""


@dataclass(frozen=True)
class NoParams(Params):
    """For models without parameters."""


class ParticipantModel(ABC):
    """A model of a person playing one game. Subclasses set `name`, `label`, `games` and
    `params_class`."""

    name: ClassVar[str]
    label: ClassVar[str]
    games: ClassVar[tuple[str, ...]]
    params_class: ClassVar[type[Params]] = NoParams

    def __init__(self, game: Game, params: dict[str, Any] | Params | None = None):
        if game.spec.name not in self.games:
            raise ParticipantParamsError(
                f"{self.label} cannot play {game.spec.label}; it plays {', '.join(self.games)}")
        self.game = game
        if isinstance(params, Params):
            self.params = params
        else:
            try:
                self.params = self.params_class.from_mapping(params)
            except ParamsError as error:
                raise ParticipantParamsError(f"{self.label}: {error}") from None

    @property
    def n_actions(self) -> int:
        return len(self.game.spec.participant_actions)

    def reset(self, batch_size: int, *, generator: torch.Generator | None = None,
              device: torch.device | str = "cpu") -> Any:
        """The state at the start of `batch_size` episodes (a model may draw per-episode
        parameters with `generator`)."""
        return None

    @abstractmethod
    def act(self, view: ParticipantView, state: Any) -> tuple[Tensor, Any]:
        """Action probabilities [B, n_actions] and the state after learning from the view."""

    def select(self, state: Any, rows: Tensor) -> Any:
        """The state of the episodes `rows` [N] long of a batch's state (fitted Q keeps, mixes and
        replays sampled states: algorithms/fitted_q.py). The default indexes every tensor of the
        state along its first dimension, through dataclasses, dicts, tuples and lists; a model
        whose state is batched along another dimension overrides it (the surrogate)."""
        return map_batched(lambda x: x[rows], state)

    def concatenate(self, states: Sequence[Any]) -> Any:
        """One state for the episodes of `states` (each a batch's state from this model), in
        order."""
        return map_batched(lambda *xs: torch.cat(xs), *states)


def map_batched(function: Callable[..., Tensor], *states: Any) -> Any:
    """`function` applied to the matching tensors of one or more states of the same structure
    (dataclasses, dicts, tuples, lists and tensors; None and plain values are kept from the
    first)."""
    first = states[0]
    if isinstance(first, Tensor):
        return function(*states)
    if dataclasses.is_dataclass(first) and not isinstance(first, type):
        return dataclasses.replace(first, **{
            f.name: map_batched(function, *(getattr(s, f.name) for s in states))
            for f in fields(first) if f.init})
    if isinstance(first, dict):
        return {key: map_batched(function, *(s[key] for s in states)) for key in first}
    if isinstance(first, (tuple, list)):
        return type(first)(map_batched(function, *parts) for parts in zip(*states, strict=True))
    return first
