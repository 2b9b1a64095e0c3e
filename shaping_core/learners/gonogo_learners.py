"""Models of people doing the go/no-go task, one style each, for go/no-go's learner zoo
(learners/gonogo_zoo.py).

On every trial the person sees the stimulus (`view.cue`: GO or NOGO) and responds or withholds;
the game pays 1 for a correct trial (a response to go, a withhold on no-go) and 0 for an error (a
commission on no-go, an omission on go), and the view of the next trial shows that reward and the
own action. The models differ in what drives their errors:

    PavlovianGoBias     feedback: instrumental values plus a go bias and a Pavlovian pull
    VigilanceDecrement  time on task: lapses grow with the trial index
    BaseRateInhibition  the stimuli seen: withholding is readier the more no-go is expected
    ResponseHabit       own recent responses: each response strengthens the urge to respond

All are batched over episodes, return probabilities (columns withhold, respond), and take every
numeric parameter as a number or a [low, high] range drawn per episode (learners/base.py). The last
three describe one participant as a Markov chain (`tabular`, algorithms/gonogo_dp.py), so the best
possible adversary against them is computed (shaping_core/optimum.py); the Pavlovian learner's
state (six values) is too large for that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from ..algorithms.gonogo_dp import GoNoGoTable, table_from_rules
from ..algorithms.markov_chain import on_grid
from ..games.gonogo import GO, NOGO, RESPOND, WITHHOLD
from ..participants import ParticipantModel, ParticipantView
from .base import LearnerParams, Range, draw_all, one_hot_or_zero
from .tabular_form import participant_values


def respond_probs(cue: Tensor, p_respond_nogo: Tensor, p_respond_go: Tensor) -> Tensor:
    """[B, 2] probabilities (withhold, respond) given each stimulus's probability of a response."""
    p_respond = torch.where(cue == NOGO, p_respond_nogo, p_respond_go)
    return torch.stack([1 - p_respond, p_respond], dim=1)


# --- Pavlovian go bias ------------------------------------------------------------------------


@dataclass(frozen=True)
class PavlovianGoBiasParams(LearnerParams):
    """alpha: learning rate in [0, 1]. rho: reward sensitivity in [0, 100] (the value of one
    point). go_bias: constant pull toward responding, in [-10, 10]. pavlovian: weight in [0, 10]
    of the stimulus's learnt value on responding. noise: irreducible lapse in [0, 1]; a lapse
    chooses uniformly."""

    alpha: Range = (0.2, 0.2)
    rho: Range = (5.0, 5.0)
    go_bias: Range = (1.0, 1.0)
    pavlovian: Range = (0.3, 0.3)
    noise: Range = (0.02, 0.02)

    def __post_init__(self):
        super().__post_init__()
        self.check_bounds("alpha", 0.0, 1.0)
        self.check_bounds("rho", 0.0, 100.0)
        self.check_bounds("go_bias", -10.0, 10.0)
        self.check_bounds("pavlovian", 0.0, 10.0)
        self.check_bounds("noise", 0.0, 1.0)


@dataclass(frozen=True)
class PavlovianState:
    q: Tensor  # [B, stimulus, action] instrumental values
    v: Tensor  # [B, stimulus] Pavlovian (stimulus) values
    previous_cue: Tensor  # [B] long, the stimulus of the previous trial (0 before the first)
    drawn: dict[str, Tensor]  # each parameter [B]


class PavlovianGoBias(ParticipantModel):
    """Instrumental Q-learning with a go bias and a Pavlovian term (Guitart-Masip et al. 2012,
    their model "RW + noise + bias + Pav", with one reward sensitivity: every outcome here is a
    reward).

    Action weights on a trial with stimulus s:

        W(respond, s)  = Q(s, respond) + go_bias + pavlovian * V(s)
        W(withhold, s) = Q(s, withhold)
        P(a | s) = (1 - noise) * softmax(W(., s))(a) + noise / 2

    Learning, at the start of each `act`, from the previous trial (stimulus s', action a',
    reward r' in {0, 1}):

        Q(s', a') <- Q(s', a') + alpha * (rho * r' - Q(s', a'))
        V(s')     <- V(s')     + alpha * (rho * r' - V(s'))

    Q and V start at 0. Every point here is a reward, so V grows for both stimuli, and the
    Pavlovian term pulls toward responding most on the stimulus that has paid best: the better
    the person has learnt to withhold on no-go, the harder withholding gets. The go bias never
    fades, so commission errors persist after learning.
    """

    name, label, games = "pavlovian_go_bias", "Pavlovian go-bias learner", ("gonogo",)
    params_class = PavlovianGoBiasParams

    def reset(self, batch_size, *, generator=None, device="cpu") -> PavlovianState:
        return PavlovianState(q=torch.zeros(batch_size, 2, 2, device=device),
                              v=torch.zeros(batch_size, 2, device=device),
                              previous_cue=torch.zeros(batch_size, dtype=torch.long, device=device),
                              drawn=draw_all(self.params, batch_size, generator, device))

    def act(self, view: ParticipantView, state: PavlovianState) -> tuple[Tensor, PavlovianState]:
        d = state.drawn
        # Learn from the previous trial; the masks are all zero before the first.
        learned = (view.last_action >= 0).float()
        seen = torch.nn.functional.one_hot(state.previous_cue, 2).float() * learned.unsqueeze(1)
        chosen = seen.unsqueeze(2) * one_hot_or_zero(view.last_action, 2).unsqueeze(1)
        target = (d["rho"] * view.last_reward.float()).view(-1, 1)
        alpha = d["alpha"].view(-1, 1)
        q = state.q + alpha.unsqueeze(2) * chosen * (target.unsqueeze(2) - state.q)
        v = state.v + alpha * seen * (target - state.v)

        # Choose: softmax over two weights is a sigmoid of their difference.
        rows = torch.arange(view.cue.shape[0], device=view.cue.device)
        q_now, v_now = q[rows, view.cue], v[rows, view.cue]
        w_respond = q_now[:, RESPOND] + d["go_bias"] + d["pavlovian"] * v_now
        p_respond = torch.sigmoid(w_respond - q_now[:, WITHHOLD])
        p_respond = (1 - d["noise"]) * p_respond + d["noise"] / 2
        probs = torch.stack([1 - p_respond, p_respond], dim=1)  # columns WITHHOLD, RESPOND
        return probs, PavlovianState(q=q, v=v, previous_cue=view.cue, drawn=d)


# --- vigilance decrement ----------------------------------------------------------------------


@dataclass(frozen=True)
class VigilanceDecrementParams(LearnerParams):
    """lapse_start: probability in [0, 1] of a lapse of attention on the first trial.
    lapse_growth: its rise per 100 trials, in [0, 1]. respond_when_lapsing: probability in [0, 1]
    that the prepotent routine responds on a lapse."""

    lapse_start: Range = (0.1, 0.1)
    lapse_growth: Range = (0.04, 0.04)
    respond_when_lapsing: Range = (0.95, 0.95)

    def __post_init__(self):
        super().__post_init__()
        self.check_bounds("lapse_start", 0.0, 1.0)
        self.check_bounds("lapse_growth", 0.0, 1.0)
        self.check_bounds("respond_when_lapsing", 0.0, 1.0)


class VigilanceDecrement(ParticipantModel):
    """A prepotent responder whose attention wanes with time on task: the vigilance decrement of
    sustained-attention tasks (Robertson et al. 1997, the SART; Thomson, Besner & Smilek 2015,
    resource-control theory: the share of attention lost to mind wandering grows over the task).

    On trial t (from 0) attention lapses with probability

        lapse(t) = min(1, lapse_start + lapse_growth * t / 100)

    On task, the person responds to go and withholds on no-go; on a lapse the prepotent routine
    responds with probability respond_when_lapsing whatever the stimulus:

        P(respond | no-go, t) = lapse(t) * respond_when_lapsing          (commission)
        P(respond | go, t)    = 1 - lapse(t) * (1 - respond_when_lapsing) (1 - omission)

    It learns nothing from feedback: only where the no-go trials fall in the session matters.
    """

    name, label, games = "vigilance_decrement", "Vigilance decrement", ("gonogo",)
    params_class = VigilanceDecrementParams

    def reset(self, batch_size, *, generator=None, device="cpu") -> dict[str, Tensor]:
        return draw_all(self.params, batch_size, generator, device)

    def act(self, view: ParticipantView, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        lapse = (state["lapse_start"] + state["lapse_growth"] * view.trial.float() / 100).clamp_max(1)
        automatic = state["respond_when_lapsing"]
        probs = respond_probs(view.cue, lapse * automatic, 1 - lapse * (1 - automatic))
        return probs, state

    def tabular(self, values: Mapping[str, float], grid: int) -> GoNoGoTable:
        """One participant (`values`) as a one-state chain whose response probabilities change
        with the trial index (`grid` is unused)."""
        checked = _checked(self, values)
        t = torch.arange(self.game.params.trials, dtype=torch.float64)
        lapse = (checked["lapse_start"] + checked["lapse_growth"] * t / 100).clamp_max(1)
        automatic = checked["respond_when_lapsing"]
        respond = _by_stimulus(1 - lapse * (1 - automatic), lapse * automatic)[:, None, :]
        stay = (torch.zeros(1, 1, dtype=torch.long), torch.ones(1, 1, dtype=torch.float64))
        return table_from_rules(respond, {(c, a): stay for c in (GO, NOGO) for a in (WITHHOLD, RESPOND)},
                                (torch.tensor([0]), torch.ones(1, dtype=torch.float64)))


# --- base-rate learner ------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseRateParams(LearnerParams):
    """prior_mean: expected no-go probability before the task, in [0, 1]. prior_strength: the
    prior's weight in pseudo-trials, in [1, 1000]. retention: per-trial retention of past
    counts in [0, 1] (1: a stationary Bayesian; lower forgets, memory ~ 1 / (1 - retention)
    trials). impulse: logit of a commission when no no-go is expected, in [-20, 20]. control:
    how much the expected no-go probability lowers that logit, in [0, 100]. omission: lapse
    probability on go trials, in [0, 1]."""

    prior_mean: Range = (0.2, 0.2)
    prior_strength: Range = (5.0, 5.0)
    retention: Range = (0.98, 0.98)
    impulse: Range = (0.0, 0.0)
    control: Range = (12.0, 12.0)
    omission: Range = (0.01, 0.01)

    def __post_init__(self):
        super().__post_init__()
        self.check_bounds("prior_mean", 0.0, 1.0)
        self.check_bounds("prior_strength", 1.0, 1000.0)
        self.check_bounds("retention", 0.0, 1.0)
        self.check_bounds("impulse", -20.0, 20.0)
        self.check_bounds("control", 0.0, 100.0)
        self.check_bounds("omission", 0.0, 1.0)


@dataclass(frozen=True)
class BaseRateState:
    nogo_count: Tensor  # [B] no-go trials seen (discounted by retention)
    trial_count: Tensor  # [B] trials seen (discounted by retention)
    drawn: dict[str, Tensor]


class BaseRateInhibition(ParticipantModel):
    """Expectation-driven inhibition: the person learns how often no-go comes and prepares to
    stop in proportion (Ide, Shenoy, Yu & Li 2013, Bayesian prediction of stop trials; Yu & Cohen
    2009, the leaky-count approximation of their dynamic belief model).

    Before trial t the expected no-go probability is a beta posterior over leaky counts of the
    stimuli seen so far (k no-go among n trials when retention is 1):

        p(t) = (prior_mean * prior_strength + k_t) / (prior_strength + n_t)
        k_{t+1} = retention * k_t + [stimulus t is no-go],  n_{t+1} = retention * n_t + 1

    Proactive control scales with the expectation, so rare no-go trials are missed more:

        P(respond | no-go) = sigmoid(impulse - control * p(t))   (commission)
        P(respond | go)    = 1 - omission

    The stimulus of trial t enters the counts once the choice is made, so p(t) is the
    expectation held before the stimulus appeared.
    """

    name, label, games = "base_rate", "Base-rate learner", ("gonogo",)
    params_class = BaseRateParams

    def reset(self, batch_size, *, generator=None, device="cpu") -> BaseRateState:
        zeros = torch.zeros(batch_size, device=device)
        return BaseRateState(nogo_count=zeros, trial_count=zeros,
                             drawn=draw_all(self.params, batch_size, generator, device))

    @staticmethod
    def expected_nogo(state: BaseRateState) -> Tensor:
        """[B] the expected no-go probability p(t)."""
        d = state.drawn
        return ((d["prior_mean"] * d["prior_strength"] + state.nogo_count)
                / (d["prior_strength"] + state.trial_count))

    def act(self, view: ParticipantView, state: BaseRateState) -> tuple[Tensor, BaseRateState]:
        d = state.drawn
        p_commission = torch.sigmoid(d["impulse"] - d["control"] * self.expected_nogo(state))
        probs = respond_probs(view.cue, p_commission, 1 - d["omission"])
        retention = d["retention"]
        return probs, BaseRateState(
            nogo_count=retention * state.nogo_count + (view.cue == NOGO).float(),
            trial_count=retention * state.trial_count + 1, drawn=d)

    def tabular(self, values: Mapping[str, float], grid: int) -> GoNoGoTable:
        """One participant (`values`) as a chain over the leaky no-go count k, on nodes every 0.5
        from 0 to the game's no-go trials (exact when retention is 1; `grid` is unused). The
        leaky trial count n_t depends on t alone, so it lives in the time-dependent
        probabilities."""
        checked = _checked(self, values)
        retention = checked["retention"]
        budget, trials = self.game.params.nogo_trials, self.game.params.trials
        k = torch.linspace(0, budget, 2 * budget + 1, dtype=torch.float64) if budget else torch.zeros(2, dtype=torch.float64)
        n = torch.zeros(trials, dtype=torch.float64)
        for t in range(1, trials):
            n[t] = retention * n[t - 1] + 1
        expected = ((checked["prior_mean"] * checked["prior_strength"] + k[None, :])
                    / (checked["prior_strength"] + n[:, None]))  # [T, S]
        commission = torch.sigmoid(checked["impulse"] - checked["control"] * expected)
        respond = _by_stimulus(torch.full_like(commission, 1 - float(checked["omission"])), commission)
        rules = {(c, a): on_grid(retention * k + (c == NOGO), k)
                 for c in (GO, NOGO) for a in (WITHHOLD, RESPOND)}
        return table_from_rules(respond, rules, (torch.tensor([0]), torch.ones(1, dtype=torch.float64)))


# --- response habit ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseHabitParams(LearnerParams):
    """rate: how fast the habit follows the own responses, in [0, 1]. impulse: logit of a
    commission at full habit, in [-20, 20]. weight: how much a weaker habit lowers that logit, in
    [0, 100]. omission: lapse probability on go trials, in [0, 1]."""

    rate: Range = (0.3, 0.3)
    impulse: Range = (-0.5, -0.5)
    weight: Range = (5.0, 5.0)
    omission: Range = (0.01, 0.01)

    def __post_init__(self):
        super().__post_init__()
        self.check_bounds("rate", 0.0, 1.0)
        self.check_bounds("impulse", -20.0, 20.0)
        self.check_bounds("weight", 0.0, 100.0)
        self.check_bounds("omission", 0.0, 1.0)


@dataclass(frozen=True)
class HabitState:
    habit: Tensor  # [B] in [0, 1], the trace of own recent responses
    drawn: dict[str, Tensor]


class ResponseHabit(ParticipantModel):
    """Sequential prepotency: every response strengthens the urge to respond and every withhold
    weakens it, so a no-go trial after a long run of go responses is the hardest to stop
    (Durston et al. 2002: more preceding go trials, more commission errors; the habit is a choice
    kernel as in Wilson & Collins 2019).

    The habit h follows the own responses (h_0 = 0), updated at the start of each `act` from the
    previous action a':

        h <- h + rate * ([a' == respond] - h)

    so after r responses in a row since a withhold, 1 - h has shrunk by (1 - rate)^r.

        P(respond | no-go) = sigmoid(impulse - weight * (1 - h))   (commission)
        P(respond | go)    = 1 - omission

    Unlike the base-rate learner it tracks its own actions, not the stimuli: a commission error
    strengthens the habit, so errors cluster.
    """

    name, label, games = "response_habit", "Response habit", ("gonogo",)
    params_class = ResponseHabitParams

    def reset(self, batch_size, *, generator=None, device="cpu") -> HabitState:
        return HabitState(habit=torch.zeros(batch_size, device=device),
                          drawn=draw_all(self.params, batch_size, generator, device))

    def act(self, view: ParticipantView, state: HabitState) -> tuple[Tensor, HabitState]:
        d = state.drawn
        responded = (view.last_action == RESPOND).float()
        step = d["rate"] * (view.last_action >= 0).float()  # nothing to follow before the first
        habit = state.habit + step * (responded - state.habit)
        p_commission = torch.sigmoid(d["impulse"] - d["weight"] * (1 - habit))
        probs = respond_probs(view.cue, p_commission, 1 - d["omission"])
        return probs, HabitState(habit=habit, drawn=d)

    def tabular(self, values: Mapping[str, float], grid: int) -> GoNoGoTable:
        """One participant (`values`) as a chain over the habit h on `grid` nodes over [0, 1]
        (the state when choosing, after learning from the previous response)."""
        checked = _checked(self, values)
        h = torch.linspace(0, 1, max(grid, 2), dtype=torch.float64)
        commission = torch.sigmoid(checked["impulse"] - checked["weight"] * (1 - h))
        respond = _by_stimulus(torch.full_like(commission, 1 - float(checked["omission"])), commission)
        respond = respond.expand(self.game.params.trials, -1, -1).clone()
        rules = {(c, a): on_grid(h + checked["rate"] * (float(a == RESPOND) - h), h)
                 for c in (GO, NOGO) for a in (WITHHOLD, RESPOND)}
        return table_from_rules(respond, rules, (torch.tensor([0]), torch.ones(1, dtype=torch.float64)))


def _checked(learner: ParticipantModel, values: Mapping[str, float]) -> dict[str, Tensor]:
    """One participant's checked parameter values as float64 scalars."""
    return {name: torch.tensor(value, dtype=torch.float64)
            for name, value in participant_values(learner, values).items()}


def _by_stimulus(respond_go: Tensor, respond_nogo: Tensor) -> Tensor:
    """[..., 2]: P(respond) to (GO, NOGO)."""
    return torch.stack([respond_go, respond_nogo], dim=-1)
