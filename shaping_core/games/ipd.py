"""Iterated prisoner's dilemma.

Each round both sides choose C (0) or D (1) at the same time; the adversary decides from history
alone (SIMULTANEOUS). Payoffs are symmetric: mutual cooperation pays `reward` (R) to both, mutual
defection `punishment` (P), and a defector facing a cooperator gets `temptation` (T) while the
cooperator gets `sucker` (S). The dilemma needs T > R > P > S, and 2R > T + S so that taking turns
exploiting each other does not beat cooperating.

Length: `rounds` fixed rounds, or, with `continuation_probability` d, another round follows each
round with probability d (geometric length, mean 1 / (1 - d)), capped at `max_rounds`.

Observation info: none beyond the common fields.

Participant context (`participant_context`, for surrogates fitted across the human studies' many
versions of the game): the payoffs as shares of the range T - S, which people's choices depend on
rather than the currency, and the horizon: whether the length was announced, whether this is the
announced last round, ln(1 + the rounds after this one, known or expected) and the chance that an
intended move is flipped (0 here; one human study had noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .base import Game, GameParamsError, GameSpec, Objective, Params, Sight, State, TrialMeasure, TurnOrder

COOPERATE, DEFECT = 0, 1

CONTEXT_FEATURES = ("reward_share", "punishment_share", "known_length", "last_round",
                    "log_rounds_ahead", "error_rate")


def situation_features(*, reward, sucker, temptation, punishment, rounds_ahead, known_length,
                       error_rate) -> Tensor:
    """The participant context (CONTEXT_FEATURES) from broadcastable tensors: the payoffs, the
    rounds after this one (known when the length is announced, else expected: d / (1 - d)),
    whether the length is announced (bool) and the noise rate. [..., 6] float32."""
    def as_float(x):
        return torch.as_tensor(x, dtype=torch.float32)

    reward, sucker, temptation, punishment = map(as_float, (reward, sucker, temptation, punishment))
    rounds_ahead, error_rate = as_float(rounds_ahead), as_float(error_rate)
    known = torch.as_tensor(known_length, dtype=torch.bool)
    span = temptation - sucker
    parts = torch.broadcast_tensors(
        (reward - sucker) / span, (punishment - sucker) / span, known.float(),
        (known & (rounds_ahead == 0)).float(), torch.log1p(rounds_ahead), error_rate)
    return torch.stack(parts, dim=-1)


@dataclass(frozen=True)
class IPDParams(Params):
    reward: float = 3.0  # R, both cooperate
    sucker: float = 0.0  # S, I cooperate, you defect
    temptation: float = 5.0  # T, I defect, you cooperate
    punishment: float = 1.0  # P, both defect
    rounds: int = 20  # fixed length; ignored when continuation_probability is set
    continuation_probability: float | None = None  # d in (0, 1): random length
    max_rounds: int = 100  # cap on a random length

    def __post_init__(self):
        t, r, p, s = self.temptation, self.reward, self.punishment, self.sucker
        if not t > r > p > s:
            raise GameParamsError(
                f"payoffs must satisfy temptation > reward > punishment > sucker, got "
                f"T={t:g}, R={r:g}, P={p:g}, S={s:g}"
            )
        if not 2 * r > t + s:
            raise GameParamsError(
                f"payoffs must satisfy 2 * reward > temptation + sucker, got 2R={2 * r:g}, "
                f"T+S={t + s:g}"
            )
        if self.rounds < 1:
            raise GameParamsError(f"rounds must be at least 1, got {self.rounds}")
        d = self.continuation_probability
        if d is not None and not 0 < d < 1:
            raise GameParamsError(f"continuation_probability must lie strictly between 0 and 1, got {d:g}")
        if self.max_rounds < 1:
            raise GameParamsError(f"max_rounds must be at least 1, got {self.max_rounds}")


MEMORY_ONE_STATES = ("start", "CC", "CD", "DC", "DD")  # (own, other's) previous actions


def memory_one(own: Tensor, other: Tensor, active: Tensor) -> dict[str, float]:
    """P(own cooperates | state) over the played trials ([B, T] each), the state being the start
    or the previous round's (own, other's) actions; NaN for a state never visited."""
    state = torch.where(torch.arange(own.shape[1], device=own.device) == 0, 0,
                        1 + 2 * own.roll(1, dims=1) + other.roll(1, dims=1))
    out = {}
    for index, name in enumerate(MEMORY_ONE_STATES):
        here = active & (state == index)
        out[name] = float((own[here] == COOPERATE).float().mean()) if bool(here.any()) else float("nan")
    return out


def zero_determinant_fit(p: dict[str, float], params: IPDParams) -> dict[str, float]:
    """How close a memory-one strategy (`memory_one`, from its own view) is to a zero-determinant
    one (Press & Dyson 2012). p~ = (p_CC - 1, p_CD - 1, p_DC, p_DD) = a S_self + b S_other + c 1
    makes the strategy enforce a s_self + b s_other + c = 0 on the long-run points, whatever the
    other does. Least squares over the four states gives a, b, c; `slope` = -b / a is the
    strategy's points per point of the other's along that line, `intercept` its points where the
    other gets 0, `baseline` the level where both get the same (intercept / (1 - slope); the
    line is s_self - baseline = slope * (s_other - baseline), Stewart & Plotkin's kappa:
    extortion has baseline P and slope > 1, generosity baseline R) and `residual` the RMS misfit
    (0: exactly zero-determinant). NaN where undefined or a state was never seen."""
    r, s, t, q = params.reward, params.sucker, params.temptation, params.punishment
    target = torch.tensor([p["CC"] - 1, p["CD"] - 1, p["DC"], p["DD"]], dtype=torch.float64)
    nan = float("nan")
    if bool(target.isnan().any()):
        return {"slope": nan, "intercept": nan, "baseline": nan, "residual": nan}
    design = torch.tensor([[r, r, 1], [s, t, 1], [t, s, 1], [q, q, 1]], dtype=torch.float64)
    (a, b, c), *_ = torch.linalg.lstsq(design, target.unsqueeze(1)).solution.squeeze(1).unsqueeze(0)
    residual = float((design @ torch.stack([a, b, c]) - target).pow(2).mean().sqrt())
    if abs(float(a)) < 1e-9:
        return {"slope": nan, "intercept": nan, "baseline": nan, "residual": residual}
    slope, intercept = float(-b / a), float(-c / a)
    baseline = intercept / (1 - slope) if abs(1 - slope) > 1e-9 else nan
    return {"slope": slope, "intercept": intercept, "baseline": baseline, "residual": residual}


class IteratedPrisonersDilemma(Game[IPDParams, State]):
    spec = GameSpec(
        name="ipd",
        label="Iterated prisoner's dilemma",
        participant_actions=("C", "D"),
        adversary_actions=("C", "D"),
        turn_order=TurnOrder.SIMULTANEOUS,
        objectives=(Objective.MAX, Objective.FAIR, Objective.ADALIGN),
        participant_sees=Sight.PREVIOUS,
        public_params=("reward", "sucker", "temptation", "punishment", "continuation_probability"),
        participant_context=CONTEXT_FEATURES,
    )
    baseline_adversary = ("random", {"p_cooperate": 0.5})
    trial_measures = (TrialMeasure("cooperation", "cooperation rate",
                                   lambda frame, game: (frame["participant_action"] == "C").astype(float)),)
    params_class = IPDParams

    @property
    def max_trials(self) -> int:
        p = self.params
        return p.rounds if p.continuation_probability is None else p.max_rounds

    @property
    def announced_length(self) -> int | None:
        return self.params.rounds if self.params.continuation_probability is None else None

    def payoff_matrix(self, device="cpu") -> Tensor:
        """[2, 2, 2]: payoff_matrix[own, other] = (own payoff, other's payoff)."""
        p = self.params
        return torch.tensor(
            [[[p.reward, p.reward], [p.sucker, p.temptation]],
             [[p.temptation, p.sucker], [p.punishment, p.punishment]]],
            device=device,
        )

    def init(self, batch_size, *, generator=None, device="cpu", length=None) -> State:
        p = self.params
        if p.continuation_probability is None:
            length = self._fixed_length(batch_size, p.rounds, length, device)
        elif length is None:
            # P(length = k) = d^(k-1) (1 - d): inverse transform of a uniform draw.
            u = torch.rand(batch_size, generator=generator, dtype=torch.float64)
            log_d = torch.log(torch.tensor(p.continuation_probability, dtype=torch.float64))
            length = (1 + torch.floor(torch.log1p(-u) / log_d)).clamp(max=p.max_rounds).long()
        elif length.shape != (batch_size,) or bool((length < 1).any() or (length > self.max_trials).any()):
            raise ValueError(f"ipd lengths must lie in 1..{self.max_trials}")
        return State(**self._common_init(batch_size, length, device))

    def is_win(self, participant_reward: Tensor) -> Tensor:
        """At least the mutual-cooperation payoff R: R and T are wins, S and P losses (Pavlov)."""
        return participant_reward >= self.params.reward

    def cooperation(self, participant_actions, adversary_actions):
        return (participant_actions == COOPERATE).float(), (adversary_actions == COOPERATE).float()

    def participant_context(self, trial: Tensor) -> Tensor:
        p = self.params
        d = p.continuation_probability
        if d is None:
            rounds_ahead = (p.rounds - 1 - trial).clamp_min(0)
        else:
            rounds_ahead = torch.full_like(trial, d / (1 - d), dtype=torch.float32)
        return situation_features(reward=p.reward, sucker=p.sucker, temptation=p.temptation,
                                  punishment=p.punishment, rounds_ahead=rounds_ahead,
                                  known_length=d is None, error_rate=0.0).to(trial.device)

    def adversary_action_mask(self, state: State) -> Tensor:
        return torch.ones(state.batch_size, 2, dtype=torch.bool, device=state.device)

    @property
    def reward_scale(self) -> float:
        p = self.params
        return max(abs(p.reward), abs(p.sucker), abs(p.temptation), abs(p.punishment), 1.0)

    def observe(self, state: State, participant_action: Tensor | None = None):
        return self._observation(state, participant_action, {}, [], self.reward_scale)

    def step(self, state: State, participant_action: Tensor, adversary_action: Tensor):
        self._check_actions(participant_action, adversary_action, state.batch_size)
        matrix = self._constant("payoffs", self.payoff_matrix, state.device)
        payoffs = matrix[participant_action, adversary_action]
        return self._advance(state, participant_action, adversary_action, payoffs[:, 0], payoffs[:, 1])

    def participant_feedback(self, participant_action, adversary_action, participant_reward,
                             adversary_reward):
        names = self.spec.adversary_actions
        return {"your_choice": names[participant_action], "other_choice": names[adversary_action],
                "points": participant_reward, "other_points": adversary_reward}

    def read_feedback(self, feedback):
        names = self.spec.adversary_actions
        return names.index(feedback["your_choice"]), names.index(feedback["other_choice"])

    def instructions_context(self):
        p = self.params.continuation_probability
        return {} if p is None else {"continuation_percent": f"{p * 100:.4g}%"}
