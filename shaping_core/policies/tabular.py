"""A one-step-memory IPD policy: one probability of cooperating per remembered state.

The state is what both sides did in the previous round, written (own move, opponent's move):

    start   no round played yet
    CC      I cooperated, the opponent cooperated
    CD      I cooperated, the opponent defected
    DC      I defected,   the opponent cooperated
    DD      both defected

Tit-for-tat is P(C) = (1, 1, 0, 1, 0) over (start, CC, CD, DC, DD).

`OneStepMemoryNet` holds five logits (P(C | s) = sigmoid(logit_s)); it reads the state from the
observation's `features` (the game's one-hot "last action" columns), so trainers can evaluate it
over whole batches of recorded features. `TabularIPDPolicy` puts it behind the common policy
interface (DESIGN.md, principle 2); its parameters are the five probabilities, so a trained policy
can also be written down in a study's JSON. `StateValueTable` is the matching tabular critic.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..games.base import Observation
from ..params import Params
from .base import Policy, PolicyParamsError

STATE_NAMES = ("start", "CC", "CD", "DC", "DD")
N_STATES = len(STATE_NAMES)


def ipd_state_index(own_last: Tensor, opponent_last: Tensor) -> Tensor:
    """0 before the first round, else 1 + 2 * own + opponent (C = 0, D = 1)."""
    return torch.where(own_last < 0, 0, 1 + 2 * own_last.clamp_min(0) + opponent_last.clamp_min(0))


def state_index_from_features(features: Tensor) -> Tensor:
    """The state index from IPD observation features [..., F] seen from the adversary seat.

    The game lays out features as one-hot(participant's last action: C, D, none), then
    one-hot(adversary's last action: C, D, none), ... (games/base.py); the adversary seat is
    "own" and the participant is the "opponent". Computed with arithmetic on the one-hot columns
    (cheap on long recorded batches): 0 when "own: none", else 1 + 2 * own_D + opponent_D.
    """
    opponent_defected, own_defected, no_round_yet = features[..., 1], features[..., 4], features[..., 5]
    return ((1 + 2 * own_defected + opponent_defected) * (1 - no_round_yet)).long()


class OneStepMemoryNet(nn.Module):
    """Five logits; forward(features [B, T, F]) gives action logits [B, T, 2] (C, D)."""

    def __init__(self, p_cooperate: tuple[float, ...] | None = None):
        super().__init__()
        p = torch.full((N_STATES,), 0.5) if p_cooperate is None else torch.tensor(p_cooperate)
        p = p.float().clamp(1e-6, 1 - 1e-6)
        self.logits = nn.Parameter(torch.log(p) - torch.log1p(-p))

    def forward(self, features: Tensor, hidden=None) -> tuple[Tensor, None]:
        logit = self.logits[state_index_from_features(features)]
        return torch.stack([logit, torch.zeros_like(logit)], dim=-1), None

    def p_cooperate(self) -> Tensor:
        return torch.sigmoid(self.logits.detach())


class StateValueTable(nn.Module):
    """A tabular critic: one value per state; forward(features [B, T, F]) gives [B, T, 1]."""

    def __init__(self):
        super().__init__()
        self.values = nn.Parameter(torch.zeros(N_STATES))

    def forward(self, features: Tensor, hidden=None) -> tuple[Tensor, None]:
        return self.values[state_index_from_features(features)].unsqueeze(-1), None


@dataclass(frozen=True)
class TabularIPDParams(Params):
    p_cooperate: tuple[float, ...] = (0.5,) * N_STATES  # P(C) at start, CC, CD, DC, DD

    def __post_init__(self):
        if len(self.p_cooperate) != N_STATES:
            raise PolicyParamsError(f"p_cooperate needs {N_STATES} values ({', '.join(STATE_NAMES)}), "
                                    f"got {len(self.p_cooperate)}")
        if not all(0 <= p <= 1 for p in self.p_cooperate):
            raise PolicyParamsError("p_cooperate values must lie in [0, 1]")


class TabularIPDPolicy(Policy):
    """Cooperate with a probability that depends on the previous round only."""

    name, label, games = "ipd_one_step_memory", "One-step-memory IPD policy", ("ipd",)
    params_class = TabularIPDParams

    def __init__(self, game, params=None, net: OneStepMemoryNet | None = None):
        super().__init__(game, params)
        self.net = net if net is not None else OneStepMemoryNet(self.params.p_cooperate)

    def reset(self, batch_size, device="cpu"):
        self.net.to(device)
        return None

    def act(self, observation: Observation, state):
        with torch.no_grad():
            index = ipd_state_index(observation.last_adversary_action,
                                    observation.last_participant_action)
            p = torch.sigmoid(self.net.logits)[index]
        return torch.stack([p, 1 - p], dim=1), state

    def checkpoint_fields(self):
        # Keep the readable parameters in step with the trained weights.
        params = self.params.to_mapping() | {"p_cooperate": self.net.p_cooperate().tolist()}
        return {"policy_params": params}

    def p_cooperate(self) -> dict[str, float]:
        return dict(zip(STATE_NAMES, self.net.p_cooperate().tolist()))
