"""A shaping adversary that acts greedily on one learned Q-function per trial.

It reads exactly what `ShapingAdversary` reads (the game's observation features and its own copy
of the human surrogate run on the participant's trials, policies/shaping.py), but instead of a
recurrent policy it holds `TrialQNet`: for every trial t a small MLP giving Q_t(features, a), the
expected adversary reward from trial t to the end after action a, if it plays greedily from then
on (or `PlanMean`, the mean of several such plans' Q). It plays the allowed action with the
highest Q (ties go to the lowest index), so its "probabilities" are one-hot. The Q-functions are
fitted by backward induction against the surrogate (algorithms/fitted_q.py).

Given the surrogate's hidden state and the game state, the future does not depend on anything
earlier, so a per-trial function of the features suffices and the policy needs no recurrent state
of its own: its state is the surrogate's hidden state, rebuilt exactly by replaying stored trials.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..games import Game, Observation
from ..params import Params, check_not_negative
from ..surrogate.model import SurrogateNet
from .base import PolicyParamsError
from .schedule_rules import allowed_by_schedule_rules, check_schedule_rules
from .shaping import SurrogatePolicy, view_from_observation


class PerTrialQ(nn.Module):
    """Q_t(x) [B, n_actions] for trials t = 0 .. n_trials - 1, from `per_trial`.

    Every trial's function predicts the value per remaining trial as a share of the most there is
    to earn (`per_trial`, in [0, 1]), so every trial's function has the same range whatever t, and
    `at` multiplies by the trials left and `value_scale`. The bounded output is worth having: with a
    linear one the bandit adversary reached a target rate of 0.727 instead of 0.737 against the
    human surrogate (docs/loop.md). Subclasses set n_trials, n_features, n_actions, value_scale.
    """

    n_trials: int
    n_features: int
    n_actions: int
    value_scale: float

    def per_trial(self, trial: int, x: Tensor) -> Tensor:
        """Q_t / scale(t) in [0, 1]: the adversary's reward per trial to come, as a share of the most
        it can earn (every trial's reward lies in [0, value_scale] in the games this plays)."""
        raise NotImplementedError

    def scale(self, trial: int) -> float:
        return (self.n_trials - trial) * self.value_scale

    def at(self, trial: int, x: Tensor) -> Tensor:
        """Q of one trial for a batch [B, F] -> [B, A]."""
        return self.per_trial(trial, x) * self.scale(trial)

    def forward(self, x: Tensor, trial: Tensor) -> Tensor:
        """Q for a batch whose rows may be at different trials (trial [B] long)."""
        out = x.new_zeros(x.shape[0], self.n_actions)
        for t in trial.unique().tolist():
            rows = trial == t
            if 0 <= t < self.n_trials:  # a finished episode (t = n_trials) is worth nothing
                out[rows] = self.at(t, x[rows])
        return out


class TrialQNet(PerTrialQ):
    """One plan: for every trial a small MLP whose sigmoid is `per_trial`."""

    def __init__(self, n_trials: int, n_features: int, n_actions: int, width: int = 128,
                 value_scale: float = 1.0):
        super().__init__()
        self.n_trials, self.n_features, self.n_actions, self.width = n_trials, n_features, n_actions, width
        self.value_scale = float(value_scale)
        self.trials = nn.ModuleList(self.make_mlp() for _ in range(n_trials))

    def make_mlp(self) -> nn.Sequential:
        return nn.Sequential(nn.Linear(self.n_features, self.width), nn.SiLU(),
                             nn.Linear(self.width, self.width), nn.SiLU(),
                             nn.Linear(self.width, self.n_actions))

    def shape(self) -> dict:
        return {"n_trials": self.n_trials, "n_features": self.n_features,
                "n_actions": self.n_actions, "width": self.width, "value_scale": self.value_scale}

    def per_trial(self, trial: int, x: Tensor) -> Tensor:
        return torch.sigmoid(self.trials[trial](x))


class PlanMean(PerTrialQ):
    """The mean of several plans' Q-functions, fitted alike with different seeds.

    A fitted plan's Q carries the noise of its sampled states and its fit, and a greedy policy
    pays for noise in Q: seeds of the same recipe differ by up to 0.17 in a held-out family's
    fraction of achievable gain (docs/loop.md, "Averaging plans"). The plans read the same features
    (the same surrogate), so their mean is one Q-function, played greedily like any other.
    """

    def __init__(self, plans: list[TrialQNet]):
        super().__init__()
        shapes = {tuple(sorted(plan.shape().items())) for plan in plans}
        if len(plans) < 2 or len(shapes) != 1:
            raise ValueError(f"a mean of plans needs at least two plans of one shape, got {len(plans)} "
                             f"plans of {len(shapes)} shapes")
        self.plans = nn.ModuleList(plans)
        first = plans[0]
        self.n_trials, self.n_features, self.n_actions = first.n_trials, first.n_features, first.n_actions
        self.value_scale = first.value_scale

    def shape(self) -> dict:
        return {**self.plans[0].shape(), "plans": len(self.plans)}

    def per_trial(self, trial: int, x: Tensor) -> Tensor:
        return torch.stack([plan.per_trial(trial, x) for plan in self.plans]).mean(dim=0)


def trial_q_net(plans: int = 1, **shape) -> PerTrialQ:
    """The network a checkpoint's `net` shape describes: one plan, or the mean of `plans`."""
    if plans == 1:
        return TrialQNet(**shape)
    return PlanMean([TrialQNet(**shape) for _ in range(plans)])


@dataclass(frozen=True)
class QShapingParams(Params):
    """The network's shape is part of the checkpoint; the one parameter is a rule on its actions."""

    pace_lag: int | None = None
    """Keep the game's paced budget (the bandit: the other option's rewards) within this many
    events of its even pace (BudgetedGame.pace_mask); None: only the game's own rules."""
    pace_lead: int | None = None
    """Keep the game's lead budget (the bandit: the target's rewards) within this many events ahead
    of its even pace (BudgetedGame.lead_mask); None: it may be spent as early as the game allows."""
    min_gap: int | None = None
    """Keep at least this many trials between two events of the game's spaced budget (go/no-go:
    go trials between two no-go trials; BudgetedGame.spacing_mask); None: no spacing."""

    def __post_init__(self):
        check_not_negative(self, ("pace_lag", "pace_lead", "min_gap"), PolicyParamsError)


class QShapingAdversary(SurrogatePolicy):
    name, label = "shaping_q", "Shaping adversary (per-trial Q-functions with a human surrogate)"
    games = ("bandit", "gonogo")
    params_class = QShapingParams
    net_class = staticmethod(trial_q_net)

    def __init__(self, game: Game, params=None, *, surrogate: SurrogateNet, net: PerTrialQ | None = None,
                 width: int = 128):
        super().__init__(game, params, surrogate=surrogate)
        if net is None:
            net = TrialQNet(game.max_trials, self.n_features, self.n_actions, width, game.reward_scale)
        if net.n_trials != game.max_trials or net.n_features != self.n_features:
            raise PolicyParamsError(f"the Q-network is for {net.n_trials} trials and {net.n_features} "
                                    f"features; this game has {game.max_trials} and {self.n_features}")
        check_schedule_rules(game, pace_lag=self.params.pace_lag, pace_lead=self.params.pace_lead,
                             min_gap=self.params.min_gap)
        self.net = net

    def allowed_actions(self, observation: Observation) -> Tensor:
        """[B, A] the game's legal actions, less those the pace, lead and spacing rules refuse."""
        return allowed_by_schedule_rules(self.game, observation, pace_lag=self.params.pace_lag,
                                         pace_lead=self.params.pace_lead,
                                         min_gap=self.params.min_gap)

    def reset(self, batch_size, device="cpu"):
        self.net.to(device)
        self.surrogate.to(device)
        return self.surrogate.initial_hidden(batch_size, device)

    @torch.no_grad()
    def act_with_features(self, observation: Observation, state) -> tuple[Tensor, Tensor, Tensor]:
        surrogate_hidden = self.surrogate.step(view_from_observation(self.game, observation), state)
        features = self.features(observation, surrogate_hidden)
        q = self.net(features, observation.trial).masked_fill(~self.allowed_actions(observation), float("-inf"))
        return self._deterministic(q.argmax(dim=1)), surrogate_hidden, features

    def act(self, observation: Observation, state):
        probs, state, _ = self.act_with_features(observation, state)
        return probs, state
