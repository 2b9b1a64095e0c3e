"""A short-memory heuristic for the bandit zoo (learners/bandit_zoo.py): each option is worth the
mean reward of its last few choices, the way people lean on small samples of recent outcomes
(Hertwig & Pleskac 2010; Plonsky, Teodorescu & Erev 2015).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from ..algorithms.bandit_dp import TabularLearner
from ..participants import ParticipantParamsError
from .bandit_learner import (BanditLearner, Drawn, Memory, batch_like, chosen_one_hot,
                             perseveration_logits)
from .base import LearnerParams, Range
from .tabular_form import exact_axis, tabulate

LONGEST_MEMORY = 5


@dataclass(frozen=True)
class RecentMeanParams(LearnerParams):
    """memory: how many of an option's most recent outcomes it remembers, a whole number in
    1..5 (the same for every participant). beta: inverse temperature in [0, 100]. kappa:
    perseveration in [-100, 100]."""

    memory: int = 2
    beta: Range = (5.0, 5.0)
    kappa: Range = (0.3, 0.3)

    def __post_init__(self):
        super().__post_init__()
        if not 1 <= self.memory <= LONGEST_MEMORY:
            raise ParticipantParamsError(f"memory must be a whole number in 1..{LONGEST_MEMORY}, "
                                         f"got {self.memory}")
        self.check_bounds("beta", 0.0, 100.0)
        self.check_bounds("kappa", -100.0, 100.0)


class RecentMean(BanditLearner):
    """Each option's value is the mean reward over its last m choices (fewer if it was chosen
    fewer times; 0 if never), with a softmax and perseveration. Nothing older than m choices
    counts, so one reward can make an option look perfect (m = 1 is a graded win-stay,
    lose-shift that also remembers the other option's last outcome).

        V[k] = (rewards in option k's last n_k choices) / n_k,  n_k = min(times chosen, m)
        P(k) = softmax_k(beta * V[k] + kappa * [k == previous choice])

    The memory of an option is its remembered outcomes as bits (the newest in bit 0) and their
    number n_k. Tabular, exactly: the outcome sequences of up to m bits for each option and the
    previous choice: 2 * (2^(m+1) - 2) * (2^(m+1) - 1) + 1 reachable states (m = 2: 85;
    m = 5: 7813).
    """

    name, label = "recent_mean", "Mean of recent outcomes"
    params_class = RecentMeanParams

    def initial_memory(self, params: Drawn) -> Memory:
        like = batch_like(params)
        zeros = torch.zeros(len(like), 2, dtype=torch.long, device=like.device)
        return {"bits": zeros, "count": zeros,
                "last_action": torch.full((len(like),), -1, device=like.device)}

    def learn(self, memory, action, reward, params) -> Memory:
        m = self.params.memory
        chosen = chosen_one_hot(action, memory["bits"]).bool()
        pushed = ((memory["bits"] << 1) | reward.long().unsqueeze(1)) & ((1 << m) - 1)
        return {"bits": torch.where(chosen, pushed, memory["bits"]),
                "count": torch.where(chosen, (memory["count"] + 1).clamp_max(m), memory["count"]),
                "last_action": action}

    def choose(self, memory, params) -> Tensor:
        bits, count = memory["bits"], memory["count"]
        shifts = torch.arange(self.params.memory, device=bits.device)
        rewards = ((bits.unsqueeze(2) >> shifts) & 1).sum(dim=2)
        dtype = params["beta"].dtype
        value = rewards.to(dtype) / count.clamp_min(1).to(dtype)  # never chosen: 0 rewards / 1
        return torch.softmax(perseveration_logits(value, params["beta"], params["kappa"],
                                                  memory["last_action"]), dim=1)

    def tabular(self, values: Mapping[str, float], grid: int) -> TabularLearner:
        """One participant with parameter `values` (beta, kappa) as a `TabularLearner`, exactly
        (`grid` is unused): every option's remembered outcomes and the previous choice."""
        m = self.params.memory
        bits, count = exact_axis(range(2 ** m)), exact_axis(range(m + 1))
        return tabulate(self, values, {"bits": (bits, bits), "count": (count, count),
                                       "last_action": exact_axis((-1, 0, 1))})
