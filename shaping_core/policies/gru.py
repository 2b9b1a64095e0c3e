"""A recurrent policy over the whole history: a GRU reads the observation `features` each trial.

`GRUNet` maps a sequence of features [B, T, F] (and an optional hidden state) to outputs
[B, T, n_outputs]; the same class serves as a policy (outputs = action logits) and as a critic
(one output). `GRUPolicy` puts a GRUNet behind the common policy interface: the recurrent state is
the GRU's hidden state, so replaying stored trials through `act` rebuilds it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..games.base import Observation, TurnOrder
from ..params import Params
from ..surrogate.model import gru_step
from .base import Policy, PolicyParamsError


def n_features_of(game) -> int:
    """Length of the game's observation feature vector."""
    state = game.init(1)
    if game.spec.turn_order is TurnOrder.PARTICIPANT_FIRST:
        return game.observe(state, torch.zeros(1, dtype=torch.long)).features.shape[1]
    return game.observe(state).features.shape[1]


class GRUNet(nn.Module):
    def __init__(self, n_features: int, n_outputs: int, hidden_size: int = 32):
        super().__init__()
        self.hidden_size = hidden_size
        self.encoder = nn.Sequential(nn.Linear(n_features, hidden_size), nn.ReLU())
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, n_outputs)

    def shape(self) -> dict[str, int]:
        """The constructor arguments, for checkpoints."""
        return {"n_features": self.encoder[0].in_features, "n_outputs": self.head.out_features,
                "hidden_size": self.hidden_size}

    def initial_hidden(self, batch_size: int, device="cpu") -> Tensor:
        return torch.zeros(1, batch_size, self.hidden_size, device=device)

    def forward(self, features: Tensor, hidden: Tensor | None = None) -> tuple[Tensor, Tensor]:
        out, hidden = self.gru(self.encoder(features), hidden)
        return self.head(out), hidden

    def step(self, features: Tensor, hidden: Tensor) -> tuple[Tensor, Tensor]:
        """One trial for a batch: features [B, F], hidden [1, B, H] -> outputs [B, n_outputs] and
        the new hidden state; `forward` on a length-one sequence, one GRU cell step (gru_step)."""
        hidden = gru_step(self.gru, self.encoder(features), hidden)
        return self.head(hidden[0]), hidden


@dataclass(frozen=True)
class GRUParams(Params):
    hidden_size: int = 32

    def __post_init__(self):
        if self.hidden_size < 1:
            raise PolicyParamsError(f"hidden_size must be at least 1, got {self.hidden_size}")


class GRUPolicy(Policy):
    """A trained recurrent adversary (weights come from a checkpoint, see checkpoint.py)."""

    name, label = "gru", "Recurrent policy (GRU)"
    games = ("ipd", "bandit", "gonogo", "trust")
    params_class = GRUParams

    def __init__(self, game, params=None, net: GRUNet | None = None):
        super().__init__(game, params)
        if net is None:
            net = GRUNet(n_features_of(game), self.n_actions, self.params.hidden_size)
        self.net = net

    def reset(self, batch_size, device="cpu"):
        self.net.to(device)
        return self.net.initial_hidden(batch_size, device)

    def checkpoint_fields(self):
        return {"policy_params": self.params.to_mapping(), "net": self.net.shape()}

    @classmethod
    def from_checkpoint(cls, game, spec):
        # Checkpoints from before GRUNet.shape() kept the hidden size in policy_params only.
        shape = {"hidden_size": spec["policy_params"].get("hidden_size", 32), **spec["net"]}
        return cls(game, spec["policy_params"], net=GRUNet(**shape))

    def act(self, observation: Observation, hidden):
        with torch.no_grad():
            logits, hidden = self.net(observation.features.unsqueeze(1), hidden)
            logits = logits.squeeze(1).masked_fill(~observation.action_mask, float("-inf"))
        return torch.softmax(logits, dim=1), hidden
