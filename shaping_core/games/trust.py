"""Multi-round trust game.

`rounds` rounds. Each round the participant (investor) receives `endowment` points and invests an
integer x in 0..endowment; the investment is multiplied by `multiplier`; the adversary (trustee)
sees x (PARTICIPANT_FIRST) and returns a fraction f from `return_fractions` of the multiplied
amount. The investor earns endowment - x + f * m * x and the trustee m * x - f * m * x.

Actions: participant "0".."endowment" (points invested); adversary one per return fraction.

Observation info: `investment` [B], the current round's investment in points.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

from .base import Game, GameParamsError, GameSpec, Objective, Params, Sight, State, TrialMeasure, TurnOrder


@dataclass(frozen=True)
class TrustParams(Params):
    rounds: int = 10
    endowment: int = 20
    multiplier: float = 3.0
    return_fractions: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)

    def __post_init__(self):
        if self.rounds < 1:
            raise GameParamsError(f"rounds must be at least 1, got {self.rounds}")
        if not 1 <= self.endowment <= 1000:
            raise GameParamsError(f"endowment must lie in 1..1000, got {self.endowment}")
        if not self.multiplier >= 1:
            raise GameParamsError(f"multiplier must be at least 1, got {self.multiplier:g}")
        fractions = self.return_fractions
        if any(not 0 <= f <= 1 for f in fractions):
            raise GameParamsError(f"return_fractions must lie in [0, 1], got {list(fractions)}")
        if list(fractions) != sorted(set(fractions)):
            raise GameParamsError(f"return_fractions must be increasing without repeats, got {list(fractions)}")


class TrustGame(Game[TrustParams, State]):
    spec = GameSpec(
        name="trust",
        label="Multi-round trust game",
        participant_actions=(),  # set per instance: depends on the endowment
        adversary_actions=(),  # set per instance: one per return fraction
        turn_order=TurnOrder.PARTICIPANT_FIRST,
        objectives=(Objective.MAX, Objective.FAIR, Objective.ADALIGN),
        participant_sees=Sight.PREVIOUS,
        public_params=("endowment", "multiplier", "return_fractions"),
    )
    baseline_adversary = ("random_repayment", {})
    trial_measures = (
        TrialMeasure("investment", "investment (fraction of endowment)",
                     lambda frame, game: frame["participant_action_index"] / game.params.endowment),
        # The fraction of the multiplied investment returned: undefined where nothing was invested.
        TrialMeasure("return_fraction", "return fraction (rounds with an investment)",
                     lambda frame, game: frame["adversary_action_index"].map(
                         dict(enumerate(game.params.return_fractions))).astype(float)
                     .where(frame["participant_action_index"] > 0)),
    )
    params_class = TrustParams

    def __init__(self, params=None):
        super().__init__(params)
        p = self.params
        self.spec = dataclasses.replace(
            type(self).spec,
            participant_actions=tuple(str(x) for x in range(p.endowment + 1)),
            adversary_actions=tuple(f"{f * 100:.6g}%" for f in p.return_fractions),
        )

    @property
    def max_trials(self) -> int:
        return self.params.rounds

    @property
    def reward_scale(self) -> float:
        return self.params.endowment * self.params.multiplier

    def init(self, batch_size, *, generator=None, device="cpu", length=None) -> State:
        length = self._fixed_length(batch_size, self.params.rounds, length, device)
        return State(**self._common_init(batch_size, length, device))

    def adversary_action_mask(self, state: State) -> Tensor:
        n = len(self.params.return_fractions)
        return torch.ones(state.batch_size, n, dtype=torch.bool, device=state.device)

    def observe(self, state: State, participant_action: Tensor | None = None):
        endowment = self.params.endowment
        info = {} if participant_action is None else {"investment": participant_action}
        extra = [] if participant_action is None else [(participant_action.float() / endowment).unsqueeze(1)]
        return self._observation(state, participant_action, info, extra,
                                 self.reward_scale)

    def cooperation(self, participant_actions, adversary_actions):
        """The share of the endowment invested, and the return fraction as a share of the
        largest one offered."""
        fractions = torch.tensor(self.params.return_fractions, device=adversary_actions.device)
        returned = torch.where(adversary_actions >= 0, fractions[adversary_actions.clamp_min(0)], 0.0)
        return (participant_actions.clamp_min(0).float() / self.params.endowment,
                returned / max(max(self.params.return_fractions), 1e-12))

    def payoffs(self, investment: Tensor, adversary_action: Tensor) -> tuple[Tensor, Tensor]:
        """(investor, trustee) points for a round."""
        fractions = self._constant("return_fractions", lambda: torch.tensor(self.params.return_fractions),
                                   investment.device)
        multiplied = investment.float() * self.params.multiplier
        returned = fractions[adversary_action] * multiplied
        return self.params.endowment - investment.float() + returned, multiplied - returned

    def step(self, state: State, participant_action: Tensor, adversary_action: Tensor):
        self._check_actions(participant_action, adversary_action, state.batch_size)
        investor, trustee = self.payoffs(participant_action, adversary_action)
        return self._advance(state, participant_action, adversary_action, investor, trustee)

    def participant_feedback(self, participant_action, adversary_action, participant_reward,
                             adversary_reward):
        multiplied = participant_action * self.params.multiplier
        fraction = self.params.return_fractions[adversary_action]
        return {"invested": participant_action, "multiplied": multiplied,
                "returned": fraction * multiplied, "return_fraction": fraction,
                "points": participant_reward, "other_points": adversary_reward}

    def read_feedback(self, feedback):
        # Actions are the amounts 0..endowment, so the investment is its own index; fractions
        # round-trip through JSON exactly, so plain equality finds the trustee's action.
        return int(feedback["invested"]), list(self.params.return_fractions).index(feedback["return_fraction"])

    def instructions_context(self):
        """The worked round of the instructions, computed by the rules themselves: invest half the
        endowment, get back the middle share."""
        invested = self.params.endowment // 2
        share = len(self.params.return_fractions) // 2
        _, result = self.step(self.init(1), torch.tensor([invested]), torch.tensor([share]))
        feedback = self.participant_feedback(invested, share, float(result.participant_reward[0]),
                                             float(result.adversary_reward[0]))
        return {"example": {**feedback, "kept": self.params.endowment - invested,
                            "share": self.spec.adversary_actions[share]}}
