"""Bayesian bandit learners for the bandit zoo (learners/bandit_zoo.py): each option's reward
probability theta_k has a Beta posterior, and two ways of choosing from it (softmax over the
posterior means; Thompson sampling).

Learning (both): per option, the evidence counts s_k (rewards seen) and f_k (non-rewards seen)
fade with a retention factor every trial, so the learner can follow a schedule that changes
(retention 1: the exact posterior of a stationary bandit), then the chosen option's count grows:

    s_k <- retention * s_k,  f_k <- retention * f_k           (both options)
    s_a <- s_a + r,          f_a <- f_a + 1 - r                (a chosen, r its reward)
    theta_k ~ Beta(prior + s_k, prior + f_k)

Neither has a tabular form: the state is four real-valued counts (integers up to the number of
trials without forgetting), too many states for dynamic programming.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .bandit_learner import (BanditLearner, Drawn, Memory, batch_like, chosen_one_hot,
                             perseveration_logits)
from .base import LearnerParams, Range

CELLS = 512  # cells of the grid over [0, 1] on which Thompson's choice probability is computed


@dataclass(frozen=True)
class BetaBernoulliParams(LearnerParams):
    """prior: the Beta prior's pseudo-counts of rewards and of non-rewards per option, in
    [0.5, 20] (1: uniform). retention: in [0, 1], the fraction of past evidence kept per trial
    (1: no forgetting)."""

    prior: Range = (1.0, 1.0)
    retention: Range = (1.0, 1.0)

    def __post_init__(self):
        super().__post_init__()
        self.check_bounds("prior", 0.5, 20.0)
        self.check_bounds("retention", 0.0, 1.0)


class BetaBernoulliLearner(BanditLearner):
    """Learning from counts as in the module's docstring; subclasses choose."""

    def initial_memory(self, params: Drawn) -> Memory:
        like = batch_like(params)
        zeros = torch.zeros(len(like), 2, dtype=like.dtype, device=like.device)
        return {"successes": zeros, "failures": zeros,
                "last_action": torch.full((len(like),), -1, device=like.device)}

    def learn(self, memory, action, reward, params) -> Memory:
        chosen = chosen_one_hot(action, memory["successes"])
        retention = params["retention"].unsqueeze(1)
        reward = reward.unsqueeze(1)
        return {"successes": retention * memory["successes"] + chosen * reward,
                "failures": retention * memory["failures"] + chosen * (1 - reward),
                "last_action": action}

    @staticmethod
    def posterior(memory: Memory, params: Drawn) -> tuple[Tensor, Tensor]:
        """[B, 2] Beta parameters (a_k, b_k) of each option's reward probability."""
        prior = params["prior"].unsqueeze(1)
        return prior + memory["successes"], prior + memory["failures"]


@dataclass(frozen=True)
class SoftmaxParams(BetaBernoulliParams):
    """As BetaBernoulliParams, and beta: inverse temperature in [0, 100] on the posterior means;
    kappa: perseveration in [-100, 100]."""

    beta: Range = (8.0, 8.0)
    kappa: Range = (0.3, 0.3)

    def __post_init__(self):
        super().__post_init__()
        self.check_bounds("beta", 0.0, 100.0)
        self.check_bounds("kappa", -100.0, 100.0)


class BetaBernoulliSoftmax(BetaBernoulliLearner):
    """A Bayesian learner that chooses by softmax over posterior mean reward probabilities
    (Steyvers, Lee & Wagenmakers 2009). Without forgetting it is a Q-learner whose learning rate
    falls as 1 / (visits + 2 * prior): early outcomes move it a lot, late ones hardly at all.

        m_k  = (prior + s_k) / (2 * prior + s_k + f_k)
        P(k) = softmax_k(beta * m_k + kappa * [k == previous choice])

    No tabular form (real-valued counts; see the module's docstring).
    """

    name, label = "beta_bernoulli_softmax", "Bayesian learner, softmax on posterior means"
    params_class = SoftmaxParams

    def choose(self, memory, params) -> Tensor:
        a, b = self.posterior(memory, params)
        logits = perseveration_logits(a / (a + b), params["beta"], params["kappa"],
                                      memory["last_action"])
        return torch.softmax(logits, dim=1)


class ThompsonSampler(BetaBernoulliLearner):
    """Thompson sampling: draw a reward probability for each option from its posterior and
    choose the larger (Thompson 1933; in people, Gershman 2018). Exploration comes from
    uncertainty alone: an option seen rarely is chosen often because its draw is wide.
    The learner returns the probability of that choice, never a sample:

        P(choose 0) = P(theta_0 > theta_1),  theta_k ~ Beta(prior + s_k, prior + f_k) independent
                    = integral over x of pdf_0(x) * cdf_1(x)

    computed on a grid of CELLS equal cells over [0, 1]: each posterior becomes the discrete
    distribution with mass proportional to its density at the cells' midpoints, and
    P(theta_0 > theta_1) = sum_i p0_i * (P1(cells below i) + p1_i / 2) (ties split evenly, so the
    two probabilities sum to 1 exactly). The error is below 1e-3 for the counts of a 100-trial
    bandit (tests/shaping_core/test_bandit_zoo.py checks it against the exact sum).

    No tabular form (real-valued counts; see the module's docstring).
    """

    name, label = "thompson", "Thompson sampler (Bayesian)"
    params_class = BetaBernoulliParams

    def choose(self, memory, params) -> Tensor:
        a, b = self.posterior(memory, params)
        x = (torch.arange(CELLS, dtype=a.dtype, device=a.device) + 0.5) / CELLS
        # [B, 2, CELLS]: each option's log Beta density at the midpoints, up to a constant
        log_density = (a.unsqueeze(2) - 1) * x.log() + (b.unsqueeze(2) - 1) * torch.log1p(-x)
        mass = torch.softmax(log_density, dim=2)
        below_1 = torch.cumsum(mass[:, 1], dim=1) - mass[:, 1]
        p0 = (mass[:, 0] * (below_1 + mass[:, 1] / 2)).sum(dim=1).clamp(0, 1)
        return torch.stack([p0, 1 - p0], dim=1)
