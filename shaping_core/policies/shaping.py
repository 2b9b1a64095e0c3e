"""A shaping adversary: a recurrent policy that reads the game *and* a model of the participant.

Dezfouli, Nock & Dayan's adversary observes what the live server can compute for a real person:
the game's history and the human surrogate's state and predicted choices for that person. This
policy carries its own copy of the fitted surrogate (shaping_core/surrogate) and, every trial,

1. feeds the surrogate the participant's previous outcome, read from the adversary's observation
   (own last action and reward, and the adversary's last move if the participant saw it),
2. appends the surrogate's summary (hidden state and the predicted choice probabilities under
   every cue, `SurrogateNet.summary`) to the game's observation features, and
3. runs its GRU policy on those features.

Its recurrent state is (surrogate hidden, policy hidden), so replaying a participant's stored
trials through `act` rebuilds both exactly, as for every policy. The surrogate is frozen; only
`net` (a GRUNet) is trained (shaping_core/adversary_training.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ..games import Game, Observation, Sight
from ..params import Params, check_not_negative
from ..participants import ParticipantView
from ..surrogate.model import SurrogateNet
from .base import Policy, PolicyParamsError
from .gru import GRUNet, n_features_of
from .schedule_rules import allowed_by_schedule_rules, check_schedule_rules


@dataclass(frozen=True)
class ShapingParams(Params):
    hidden_size: int = 32
    min_gap: int | None = None
    """Keep at least this many trials between two events of the game's spaced budget (go/no-go:
    go trials between two no-go trials; policies/schedule_rules.py); None: no spacing."""

    def __post_init__(self):
        if self.hidden_size < 1:
            raise PolicyParamsError(f"hidden_size must be at least 1, got {self.hidden_size}")
        check_not_negative(self, ("min_gap",), PolicyParamsError)


def view_from_observation(game: Game, observation: Observation) -> ParticipantView:
    """What the participant learnt from the previous trial, as the adversary sees it. The cue of
    the current trial is not known yet (the adversary is about to set it)."""
    none = torch.full_like(observation.trial, -1)
    seen = none if game.spec.participant_sees is Sight.NOTHING else observation.last_adversary_action
    return ParticipantView(trial=observation.trial, last_action=observation.last_participant_action,
                           last_reward=observation.last_participant_reward, last_seen=seen, cue=none,
                           context=game.participant_context(observation.trial))


class SurrogatePolicy(Policy):
    """A policy that carries its own frozen copy of the fitted surrogate and decides on the game's
    features together with the surrogate's summary of the participant (`features`). Subclasses
    set `net_class`, what builds the trained network that reads those features from the shape a
    checkpoint stores (a class, or a function choosing one), and build `self.net`."""

    net_class: ClassVar[Callable[..., nn.Module]]

    def __init__(self, game: Game, params=None, *, surrogate: SurrogateNet):
        super().__init__(game, params)
        if surrogate.n_actions != len(game.spec.participant_actions):
            raise PolicyParamsError("the surrogate was fitted for a different game")
        # A frozen copy: the caller's surrogate (e.g. the one the training participants run)
        # keeps its own mode and gradients.
        self.surrogate = copy.deepcopy(surrogate).eval().requires_grad_(False)

    @property
    def n_features(self) -> int:
        return n_features_of(self.game) + self.surrogate.summary_size()

    def features(self, observation: Observation, surrogate_hidden: Tensor) -> Tensor:
        """[B, F]: the game's features and the surrogate's summary (hidden state, predictions)."""
        return torch.cat([observation.features, self.surrogate.summary(surrogate_hidden)], dim=1)

    def checkpoint_fields(self):
        surrogate = self.surrogate
        return {"policy_params": self.params.to_mapping(), "net": self.net.shape(),
                "surrogate": {**surrogate.shape(),
                              "state_dict": {k: v.detach().cpu() for k, v in surrogate.state_dict().items()}}}

    @classmethod
    def from_checkpoint(cls, game, spec):
        surrogate = SurrogateNet(game, spec["surrogate"]["hidden_size"],
                                 spec["surrogate"].get("reads_context", False))
        surrogate.load_state_dict(spec["surrogate"]["state_dict"])
        return cls(game, spec["policy_params"], surrogate=surrogate, net=cls.net_class(**spec["net"]))


class ShapingAdversary(SurrogatePolicy):
    name, label = "shaping", "Shaping adversary (GRU with a human surrogate)"
    games = ("ipd", "bandit", "gonogo", "trust")
    params_class = ShapingParams
    net_class = GRUNet

    def __init__(self, game: Game, params=None, *, surrogate: SurrogateNet,
                 net: GRUNet | None = None):
        super().__init__(game, params, surrogate=surrogate)
        if net is None:
            net = GRUNet(self.n_features, self.n_actions, self.params.hidden_size)
        check_schedule_rules(game, min_gap=self.params.min_gap)
        self.net = net

    def allowed_actions(self, observation: Observation) -> Tensor:
        return allowed_by_schedule_rules(self.game, observation, min_gap=self.params.min_gap)

    def reset(self, batch_size, device="cpu"):
        self.net.to(device)
        self.surrogate.to(device)
        return (self.surrogate.initial_hidden(batch_size, device),
                self.net.initial_hidden(batch_size, device))

    @torch.no_grad()
    def act_with_features(self, observation: Observation, state) -> tuple[Tensor, tuple, Tensor]:
        surrogate_hidden, hidden = state
        surrogate_hidden = self.surrogate.step(view_from_observation(self.game, observation),
                                               surrogate_hidden)
        features = self.features(observation, surrogate_hidden)
        logits, hidden = self.net.step(features, hidden)
        logits = logits.masked_fill(~self.allowed_actions(observation), float("-inf"))
        return torch.softmax(logits, dim=1), (surrogate_hidden, hidden), features

    def act(self, observation: Observation, state):
        probs, state, _ = self.act_with_features(observation, state)
        return probs, state
