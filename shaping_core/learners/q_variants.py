"""Variants of bandit Q-learning from the cognitive-modelling literature, for the bandit zoo
(learners/bandit_zoo.py). Each keeps two values Q[0], Q[1] (starting at 0; rewards are 0 or 1, so
they stay in [0, 1]) and differs from the plain Q-learner (learners/q_learning.py) in one
documented way. All have a tabular form on a grid over the values (`tabular`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from ..algorithms.bandit_dp import TabularLearner
from .bandit_learner import (BanditLearner, Drawn, Memory, batch_like, chosen_one_hot,
                             perseveration_logits)
from .base import LearnerParams, Range
from .tabular_form import exact_axis, grid_axis, tabulate

LAST_ACTION = exact_axis((-1, 0, 1))  # the previous own choice, -1 before the first trial
LAST_REWARD = exact_axis((0.0, 1.0), torch.float64)


def _q_axes(size: int) -> tuple:
    """Q[0] and Q[1] on `size` nodes over [0, 1] each."""
    return grid_axis(0.0, 1.0, size), grid_axis(0.0, 1.0, size)


def _zero_values(params: Drawn) -> Tensor:
    like = batch_like(params)
    return torch.zeros(len(like), 2, dtype=like.dtype, device=like.device)


def _prediction_error(q: Tensor, action: Tensor, reward: Tensor) -> tuple[Tensor, Tensor]:
    """([B, 2] one-hot of the chosen option a, [B] its prediction error r - Q[a])."""
    chosen = chosen_one_hot(action, q)
    return chosen, reward - (q * chosen).sum(dim=1)


def _delta_rule(q: Tensor, action: Tensor, reward: Tensor, alpha: Tensor) -> Tensor:
    """Q[a] <- Q[a] + alpha * (r - Q[a]) for the chosen a."""
    chosen, error = _prediction_error(q, action, reward)
    return q + chosen * (alpha * error).unsqueeze(1)


class PerseveratingQLearner(BanditLearner):
    """What the plain Q-learner's variants share: values Q starting at 0, the previous choice,
    and the choice rule P(k) = softmax_k(beta * Q[k] + kappa * [k == previous choice]).
    Subclasses learn. Tabular: Q[0], Q[1] on a grid and the previous choice (at most
    3 * grid^2 states)."""

    def initial_memory(self, params: Drawn) -> Memory:
        q = _zero_values(params)
        return {"q": q, "last_action": torch.full((len(q),), -1, device=q.device)}

    def choose(self, memory, params) -> Tensor:
        return torch.softmax(perseveration_logits(memory["q"], params["beta"], params["kappa"],
                                                  memory["last_action"]), dim=1)

    def tabular(self, values: Mapping[str, float], grid: int) -> TabularLearner:
        """One participant with parameter `values` as a `TabularLearner`: Q[0] and Q[1] on
        `grid` nodes over [0, 1] each, and the previous choice."""
        return tabulate(self, values, {"q": _q_axes(grid), "last_action": LAST_ACTION})


# --- asymmetric learning rates ---------------------------------------------------------------------


@dataclass(frozen=True)
class AsymmetricParams(LearnerParams):
    """alpha_pos, alpha_neg: learning rates in [0, 1] for positive and negative prediction
    errors. beta: inverse temperature in [0, 100]. kappa: perseveration in [-100, 100]."""

    alpha_pos: Range = (0.4, 0.4)
    alpha_neg: Range = (0.2, 0.2)
    beta: Range = (4.0, 4.0)
    kappa: Range = (0.3, 0.3)

    def __post_init__(self):
        super().__post_init__()
        self.check_bounds("alpha_pos", 0.0, 1.0)
        self.check_bounds("alpha_neg", 0.0, 1.0)
        self.check_bounds("beta", 0.0, 100.0)
        self.check_bounds("kappa", -100.0, 100.0)


class AsymmetricQLearner(PerseveratingQLearner):
    """Q-learning that learns more from good news than from bad (or the reverse): separate
    learning rates for positive and negative prediction errors (Frank et al. 2007; Lefebvre et
    al. 2017, where most people were optimistic, alpha_pos > alpha_neg).

        delta   = r - Q[a]                                   (a chosen, r its reward)
        Q[a]   <- Q[a] + (alpha_pos if delta > 0 else alpha_neg) * delta
        P(k)    = softmax_k(beta * Q[k] + kappa * [k == previous choice])

    Tabular: Q[0], Q[1] on a grid and the previous choice (at most 3 * grid^2 states).
    """

    name, label = "q_asymmetric", "Q-learner with asymmetric learning rates"
    params_class = AsymmetricParams

    def learn(self, memory, action, reward, params) -> Memory:
        chosen, error = _prediction_error(memory["q"], action, reward)
        alpha = torch.where(error > 0, params["alpha_pos"], params["alpha_neg"])
        q = memory["q"] + chosen * (alpha * error).unsqueeze(1)
        return {"q": q, "last_action": action}


# --- forgetting ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForgettingParams(LearnerParams):
    """alpha: learning rate in [0, 1]. forget: in [0, 1], the fraction of the unchosen option's
    value lost per trial. beta: inverse temperature in [0, 100]. kappa: perseveration in
    [-100, 100]."""

    alpha: Range = (0.3, 0.3)
    forget: Range = (0.2, 0.2)
    beta: Range = (4.0, 4.0)
    kappa: Range = (0.3, 0.3)

    def __post_init__(self):
        super().__post_init__()
        self.check_bounds("alpha", 0.0, 1.0)
        self.check_bounds("forget", 0.0, 1.0)
        self.check_bounds("beta", 0.0, 100.0)
        self.check_bounds("kappa", -100.0, 100.0)


class ForgettingQLearner(PerseveratingQLearner):
    """Q-learning whose unchosen value decays toward 0 (the F-Q learner of Ito & Doya 2009;
    Katahira 2015): an option not chosen lately fades back toward an untried one, so values
    track recent experience and a good option left alone loses its pull.

        Q[a]   <- Q[a] + alpha * (r - Q[a])                  (a chosen, r its reward)
        Q[b]   <- (1 - forget) * Q[b]                        (b the other option)
        P(k)    = softmax_k(beta * Q[k] + kappa * [k == previous choice])

    Tabular: Q[0], Q[1] on a grid and the previous choice (at most 3 * grid^2 states).
    """

    name, label = "q_decay", "Q-learner with forgetting"
    params_class = ForgettingParams

    def learn(self, memory, action, reward, params) -> Memory:
        q = _delta_rule(memory["q"], action, reward, params["alpha"])
        unchosen = 1 - chosen_one_hot(action, q)
        q = q * (1 - unchosen * params["forget"].unsqueeze(1))
        return {"q": q, "last_action": action}


# --- choice kernel ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChoiceKernelParams(LearnerParams):
    """alpha: value learning rate in [0, 1]. beta: value inverse temperature in [0, 100].
    alpha_c: habit learning rate in [0, 1]. beta_c: habit weight in [-100, 100] (negative:
    a habit of alternating)."""

    alpha: Range = (0.3, 0.3)
    beta: Range = (4.0, 4.0)
    alpha_c: Range = (0.3, 0.3)
    beta_c: Range = (1.0, 1.0)

    def __post_init__(self):
        super().__post_init__()
        self.check_bounds("alpha", 0.0, 1.0)
        self.check_bounds("beta", 0.0, 100.0)
        self.check_bounds("alpha_c", 0.0, 1.0)
        self.check_bounds("beta_c", -100.0, 100.0)


class ChoiceKernelQLearner(BanditLearner):
    """Q-learning plus a choice kernel: a habit that tracks how often each option was chosen
    lately, whatever it paid (Wilson & Collins 2019, model 5). Perseveration that builds up over
    many trials instead of the previous one alone.

        Q[a]   <- Q[a] + alpha * (r - Q[a])                  (a chosen, r its reward)
        CK[k]  <- CK[k] + alpha_c * ([k == a] - CK[k])       (both options; CK starts at 0)
        P(k)    = softmax_k(beta * Q[k] + beta_c * CK[k])

    With two options only CK[0] - CK[1] matters, so the memory holds the habit
    h = CK[0] - CK[1] in [-1, 1]:  h <- (1 - alpha_c) * h + alpha_c * (+1 if a == 0 else -1),
    and the logits are beta * Q[k] +- beta_c * h / 2.

    Tabular: Q[0], Q[1] and h on a grid (at most grid^3 states).
    """

    name, label = "choice_kernel", "Q-learner with a choice kernel"
    params_class = ChoiceKernelParams

    def initial_memory(self, params: Drawn) -> Memory:
        q = _zero_values(params)
        return {"q": q, "habit": q[:, 0]}

    def learn(self, memory, action, reward, params) -> Memory:
        q = _delta_rule(memory["q"], action, reward, params["alpha"])
        toward = 1 - 2 * action.to(q.dtype)  # +1 after choosing option 0, -1 after option 1
        habit = memory["habit"] + params["alpha_c"] * (toward - memory["habit"])
        return {"q": q, "habit": habit}

    def choose(self, memory, params) -> Tensor:
        habit = (params["beta_c"] * memory["habit"] / 2).unsqueeze(1)
        logits = params["beta"].unsqueeze(1) * memory["q"] + torch.cat([habit, -habit], dim=1)
        return torch.softmax(logits, dim=1)

    def tabular(self, values: Mapping[str, float], grid: int) -> TabularLearner:
        """One participant with parameter `values` as a `TabularLearner`: Q[0] and Q[1] on
        `grid` nodes over [0, 1] each, and the habit on `grid` nodes over [-1, 1]."""
        return tabulate(self, values, {"q": _q_axes(grid), "habit": grid_axis(-1.0, 1.0, grid)})


# --- mixture of reinforcement learning and win-stay, lose-shift ------------------------------------


@dataclass(frozen=True)
class MixtureParams(LearnerParams):
    """w: weight of the win-stay, lose-shift rule in [0, 1]. alpha: learning rate in [0, 1].
    beta: inverse temperature in [0, 100]. p_stay_win, p_shift_loss: the rule's probabilities
    of repeating after a reward and of switching after none, in [0, 1]."""

    w: Range = (0.5, 0.5)
    alpha: Range = (0.3, 0.3)
    beta: Range = (4.0, 4.0)
    p_stay_win: Range = (0.9, 0.9)
    p_shift_loss: Range = (0.6, 0.6)

    def __post_init__(self):
        super().__post_init__()
        for name in ("w", "alpha", "p_stay_win", "p_shift_loss"):
            self.check_bounds(name, 0.0, 1.0)
        self.check_bounds("beta", 0.0, 100.0)


class RLWSLSMixture(BanditLearner):
    """A person who on each trial follows win-stay, lose-shift with weight w and a Q-learner's
    softmax otherwise (Worthy, Pang & Byrne 2013; Worthy & Maddox 2014):

        Q[a]    <- Q[a] + alpha * (r - Q[a])                 (a chosen, r its reward)
        P_Q(k)   = softmax_k(beta * Q[k])
        P_WS(k)  = p_stay_win if k == a else 1 - p_stay_win          after r = 1
                   1 - p_shift_loss if k == a else p_shift_loss      after r = 0
                   1/2                                                on the first trial
        P(k)     = w * P_WS(k) + (1 - w) * P_Q(k)

    Tabular: Q[0], Q[1] on a grid and the previous choice and reward (at most 4 * grid^2 + 1
    states).
    """

    name, label = "rl_wsls_mixture", "Mixture of Q-learning and win-stay, lose-shift"
    params_class = MixtureParams

    def initial_memory(self, params: Drawn) -> Memory:
        q = _zero_values(params)
        return {"q": q, "last_action": torch.full((len(q),), -1, device=q.device),
                "last_reward": q[:, 0]}

    def learn(self, memory, action, reward, params) -> Memory:
        q = _delta_rule(memory["q"], action, reward, params["alpha"])
        return {"q": q, "last_action": action, "last_reward": reward.to(q.dtype)}

    def choose(self, memory, params) -> Tensor:
        q, last_action = memory["q"], memory["last_action"]
        by_value = torch.softmax(params["beta"].unsqueeze(1) * q, dim=1)
        stay = torch.where(memory["last_reward"] > 0, params["p_stay_win"], 1 - params["p_shift_loss"])
        stay = torch.where(last_action >= 0, stay, 0.5).unsqueeze(1)
        repeat = chosen_one_hot(last_action.clamp_min(0), q)
        by_rule = stay * repeat + (1 - stay) * (1 - repeat)
        w = params["w"].unsqueeze(1)
        return w * by_rule + (1 - w) * by_value

    def tabular(self, values: Mapping[str, float], grid: int) -> TabularLearner:
        """One participant with parameter `values` as a `TabularLearner`: Q[0] and Q[1] on
        `grid` nodes over [0, 1] each, and the previous choice and reward."""
        return tabulate(self, values, {"q": _q_axes(grid), "last_action": LAST_ACTION,
                                       "last_reward": LAST_REWARD})
