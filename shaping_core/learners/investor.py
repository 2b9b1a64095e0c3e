"""An investor for the multi-round trust game: a trust level learnt from the trustee's returns.

Each episode has a trust level tau in [0, 1], starting at `initial_trust`. With endowment E, the
investment x in 0..E is drawn from a discretised Gaussian around tau * E with standard deviation
`noise` * E:

    P(x) proportional to exp(-(x - tau * E)^2 / (2 * (noise * E)^2))

(noise 0: invest round(tau * E), ties to even). The noise also lets a distrustful investor probe
now and then with a small investment, which is how it can learn that a trustee has improved.

After a round in which it invested x > 0 and saw the trustee return a fraction f of the
multiplied amount (view.last_seen, an index into the game's return fractions), the investor
updates its trust by the net gain per point invested, g = f * m - 1 (m the multiplier; 0 at break
even), normalised by the most it could gain (m - 1) when positive and by the most it could lose
(1, the point itself) when negative:

    g_norm = g / (m - 1) if g > 0 else g          (in [-1, 1])
    tau    <- clip(tau + learning_rate * g_norm, 0, 1)

So generous trustees (f > 1 / m) earn more investment and exploitative ones less. Normalising
losses by the stake rather than by m - 1 (a variant of tau += lr * (f m - 1) / (m - 1)) makes a
point lost weigh (m - 1) times a point gained, close to the loss aversion of about 2 measured in
people when m = 3, and keeps the step bounded for any multiplier (m may be 1). A round with no
investment teaches nothing: nothing was at stake.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..games import Game
from ..participants import ParticipantModel, ParticipantView
from .base import LearnerParams, Range, draw_all


@dataclass(frozen=True)
class InvestorParams(LearnerParams):
    """Parameters of the investor; each a number or a [low, high] range drawn per episode.

    initial_trust: tau before the first round, in [0, 1]; the expected first investment is
        about initial_trust * endowment.
    learning_rate: how far one round's outcome moves tau, in [0, 1].
    noise: standard deviation of the investment as a fraction of the endowment, in [0, 1].
    """

    initial_trust: Range = (0.5, 0.5)
    learning_rate: Range = (0.3, 0.3)
    noise: Range = (0.15, 0.15)

    def __post_init__(self):
        super().__post_init__()
        self.check_bounds("initial_trust", 0.0, 1.0)
        self.check_bounds("learning_rate", 0.0, 1.0)
        self.check_bounds("noise", 0.0, 1.0)


class Investor(ParticipantModel):
    name, label, games = "investor", "Trust-learning investor", ("trust",)
    params_class = InvestorParams

    def __init__(self, game: Game, params=None):
        super().__init__(game, params)
        self.endowment = game.params.endowment
        self.multiplier = float(game.params.multiplier)
        self.fractions = torch.tensor(game.params.return_fractions)

    def reset(self, batch_size, *, generator=None, device="cpu") -> dict[str, Tensor]:
        drawn = draw_all(self.params, batch_size, generator, device)
        return {"trust": drawn.pop("initial_trust"), **drawn}

    def act(self, view: ParticipantView, state) -> tuple[Tensor, dict[str, Tensor]]:
        device = view.trial.device
        # Learn from the previous round's return (if anything was invested).
        fraction = self.fractions.to(device)[view.last_seen.clamp_min(0)]
        gain = fraction * self.multiplier - 1
        best_gain = max(self.multiplier - 1, 1e-12)  # only used where gain > 0, so m > 1 there
        gain = torch.where(gain > 0, gain / best_gain, gain)
        learned = (view.last_action > 0) & (view.last_seen >= 0)
        trust = torch.where(learned, (state["trust"] + state["learning_rate"] * gain).clamp(0, 1),
                            state["trust"])

        # Choose an investment around trust * endowment.
        points = torch.arange(self.endowment + 1, device=device, dtype=torch.float32)
        mean = (trust * self.endowment).unsqueeze(1)
        sd = (state["noise"] * self.endowment).unsqueeze(1)
        smooth = torch.softmax(-((points - mean) ** 2) / (2 * sd.clamp_min(1e-6) ** 2), dim=1)
        exact = torch.nn.functional.one_hot(mean.squeeze(1).round().long(), self.endowment + 1).float()
        probs = torch.where(sd > 0, smooth, exact)
        return probs, {**state, "trust": trust}
