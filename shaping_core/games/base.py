"""The contract every game follows.

A game is a set of pure functions over *batches* of episodes, written once and used everywhere
(DESIGN.md, principle 1): the live server calls them with a batch of one, trainers with thousands.

    state = game.init(batch_size, generator=g)
    while not state.done.all():
        obs = game.observe(state, participant_action)   # what the adversary may see now
        ...                                              # a policy picks adversary_action
        state, result = game.step(state, participant_action, adversary_action)

Every trial has exactly one participant action and one adversary action. `turn_order` says who
commits first:

- SIMULTANEOUS (IPD): the adversary decides from history alone, before the participant moves.
- ADVERSARY_FIRST (bandit, go/no-go): the adversary sets up the trial, then the participant acts.
- PARTICIPANT_FIRST (trust game): the adversary sees the participant's move, then responds.

In the first two orders `observe` must be called without the current participant action, so the
adversary cannot peek (principle 5).

States are frozen dataclasses of tensors with leading batch dimension B; `step` returns a new
state. Episodes may have different lengths (IPD with a continuation probability): stepping an
episode that is already done changes nothing and pays nothing, so a batch can run until all are
done.
"""

from __future__ import annotations

import dataclasses
import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import torch
from torch import Tensor

from ..params import Params, ParamsError


class GameParamsError(ParamsError):
    """A game was given parameters that break its rules; the message says which and why."""


class TurnOrder(enum.StrEnum):
    SIMULTANEOUS = "simultaneous"
    ADVERSARY_FIRST = "adversary_first"
    PARTICIPANT_FIRST = "participant_first"


class Sight(enum.StrEnum):
    """What the participant sees of the adversary's moves."""

    NOTHING = "nothing"  # only their own reward (the bandit's reward assignment stays hidden)
    PREVIOUS = "previous"  # the adversary's move, once the trial is over (IPD, trust)
    CUE = "cue"  # the adversary's move for this trial, before choosing (go/no-go's stimulus)


class Objective(enum.StrEnum):
    """What a trained adversary may be asked to pursue (the training issue defines them)."""

    MAX = "max"  # the adversary's own reward
    FAIR = "fair"  # minus the gap between both sides' earnings
    ADALIGN = "adalign"  # Advantage Alignment against the participant


@dataclass(frozen=True)
class GameSpec:
    """What a game is, independent of its parameters."""

    name: str
    label: str
    participant_actions: tuple[str, ...]
    adversary_actions: tuple[str, ...]
    turn_order: TurnOrder
    objectives: tuple[Objective, ...]
    participant_sees: Sight
    # The parameters the participant is told (the instructions state them), which their page may
    # use; the others (the bandit's target option, how many no-go trials there are, ...) never
    # leave the server. The game's length is announced separately (`Game.announced_length`).
    public_params: tuple[str, ...] = ()
    # Names of the numbers `Game.participant_context` gives: what a person knows about the game
    # they are in (payoffs, horizon), for models of people fitted across many such games.
    participant_context: tuple[str, ...] = ()
    # Whether the participant's options swap screen sides for every other participant of a
    # condition (games whose options a person tells apart only by what they earned; `Game.mirror`
    # maps such trials onto one side).
    counterbalanced_sides: bool = False
    # The adversary's points per trial read as the rate it is after, (key, label): the bandit's
    # target-choice rate, go/no-go's error rate. None in games where both sides earn points, whose
    # headline figures are both sides' points and the gap between them.
    headline_rate: tuple[str, str] | None = None


@dataclass(frozen=True)
class TrialMeasure:
    """A number per trial of the exported trial table (docs/data.md), reported per condition by
    trial and per participant (webapp/research/report.py)."""

    name: str
    label: str
    values: Callable[[Any, Game], Any]  # (trial DataFrame, game) -> one value per row, NaN where undefined


@dataclass(frozen=True)
class Observation:
    """What an adversary may see when it decides, for a batch of episodes.

    `last_*` fields describe the previous trial; they are -1 (actions) and 0 (rewards) before the
    first trial. `participant_action` is the current trial's participant move in
    PARTICIPANT_FIRST games and None otherwise. `action_mask` marks the adversary actions the
    rules allow now. `info` holds a game's own named quantities (documented on each game), and
    `features` is the same information as one fixed-size float vector for learned policies.
    """

    trial: Tensor  # [B] long, index of the trial being decided
    last_participant_action: Tensor  # [B] long
    last_adversary_action: Tensor  # [B] long
    last_participant_reward: Tensor  # [B] float
    last_adversary_reward: Tensor  # [B] float
    participant_action: Tensor | None  # [B] long
    action_mask: Tensor  # [B, n_adversary_actions] bool
    info: Mapping[str, Tensor]
    features: Tensor  # [B, n_features] float

    @property
    def batch_size(self) -> int:
        return self.trial.shape[0]


@dataclass(frozen=True)
class StepResult:
    """Outcome of one trial for a batch. `adversary_action` is the action the rules applied
    (budget rules may force or withhold what the adversary asked for)."""

    participant_reward: Tensor  # [B] float
    adversary_reward: Tensor  # [B] float
    adversary_action: Tensor  # [B] long
    done: Tensor  # [B] bool, after this trial


@dataclass(frozen=True)
class State:
    """Fields every game's state has. Games subclass it with their own fields."""

    trial: Tensor  # [B] long, trials played so far
    length: Tensor  # [B] long, trials in this episode
    last_participant_action: Tensor  # [B] long, -1 before the first trial
    last_adversary_action: Tensor  # [B] long
    last_participant_reward: Tensor  # [B] float
    last_adversary_reward: Tensor  # [B] float

    @property
    def done(self) -> Tensor:
        return self.trial >= self.length

    @property
    def batch_size(self) -> int:
        return self.trial.shape[0]

    @property
    def device(self) -> torch.device:
        return self.trial.device


ParamsT = TypeVar("ParamsT", bound=Params)
StateT = TypeVar("StateT", bound=State)


class Game(ABC, Generic[ParamsT, StateT]):
    """One repeated game with validated parameters. Subclasses implement the rules."""

    spec: ClassVar[GameSpec]
    params_class: ClassVar[type[Params]]

    def __init__(self, params: Mapping[str, Any] | ParamsT | None = None):
        if isinstance(params, Params):
            if not isinstance(params, self.params_class):
                raise TypeError(f"{self.spec.name} takes {self.params_class.__name__}, "
                                f"got {type(params).__name__}")
            self.params: ParamsT = params  # type: ignore[assignment]
        else:
            try:
                self.params = self.params_class.from_mapping(params)  # type: ignore[assignment]
            except GameParamsError:
                raise
            except ParamsError as error:  # unknown keys, wrong types
                raise GameParamsError(str(error)) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"

    # --- the rules -------------------------------------------------------------------------

    @property
    @abstractmethod
    def max_trials(self) -> int:
        """The most trials an episode can have (its length, or the cap)."""

    @property
    @abstractmethod
    def reward_scale(self) -> float:
        """A typical size of one trial's points, for scaling rewards in learned models' inputs."""

    @property
    def announced_length(self) -> int | None:
        """The number of trials participants are told, or None when the length is random and
        must stay unknown to them."""
        return self.max_trials

    @abstractmethod
    def init(
        self,
        batch_size: int,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
        length: Tensor | None = None,
    ) -> StateT:
        """Start `batch_size` episodes. `length` replays episodes whose lengths were drawn before
        (a participant's stored length); otherwise lengths are drawn with `generator`."""

    @abstractmethod
    def adversary_action_mask(self, state: StateT) -> Tensor:
        """[B, n_adversary_actions] bool: which adversary actions the rules allow now."""

    @abstractmethod
    def observe(self, state: StateT, participant_action: Tensor | None = None) -> Observation:
        """The adversary's view before it acts. Pass `participant_action` only in
        PARTICIPANT_FIRST games."""

    @abstractmethod
    def step(
        self, state: StateT, participant_action: Tensor, adversary_action: Tensor
    ) -> tuple[StateT, StepResult]:
        """Play one trial for every episode in the batch."""

    @property
    @abstractmethod
    def baseline_adversary(self) -> tuple[str, dict[str, Any]]:
        """The classic adversary that trained ones are compared with and that practice blocks are
        played against: random within the rules. A policy name (shaping_core/policies) and its
        parameters."""

    # Per objective, the `train-adversary` options measured best for this game (flag names with
    # underscores: {"method": "fitted-q", "pace_lag": 6}), which it uses when no --method is given;
    # an objective not named here trains by PPO against the surrogate alone. docs/loop.md gives
    # the measurements behind each game's entries.
    default_training: Mapping[str, Mapping[str, Any]] = {}

    @property
    @abstractmethod
    def trial_measures(self) -> tuple[TrialMeasure, ...]:
        """What a study's report shows of each trial (the IPD's cooperation, the bandit's target
        choice, ...)."""

    def headline(self, participant_return: Tensor, adversary_return: Tensor, trials: Tensor) -> dict[str, float]:
        """The game's headline figures over episodes (each side's points and the trials played,
        [B]): the rate the adversary is after (`spec.headline_rate`), or, where both sides earn,
        the mean gap between their points."""
        if self.spec.headline_rate is not None:
            return {self.spec.headline_rate[0]: float((adversary_return / trials).mean())}
        return {"earnings_gap": float((participant_return - adversary_return).abs().mean())}

    def effective_participant_action(self, action: int, reaction_time_ms: float | None) -> int:
        """The action a participant's response counts as, given its reaction time. Most games
        take the response as it is; a game with a response window overrides this."""
        return action

    def mirror(self, participant_actions: Tensor, adversary_actions: Tensor) -> tuple[Tensor, Tensor] | None:
        """The same trials with the participant's options swapped, in games where a person tells
        them apart only by what they earned (the bandit; its platform shows the target on a side
        counterbalanced across participants). Actions of any shape, -1 (none) kept. None in games
        whose actions mean different things (cooperate/defect, go/no-go, amounts)."""
        return None

    @property
    def target_participant_action(self) -> int | None:
        """The participant action the adversary is paid for, as an index into
        `spec.participant_actions`, in games where it is one fixed action (the bandit's target
        option); None in games without one. Exports name it so that no reader has to know which
        game keeps its target where."""
        return None

    def is_win(self, participant_reward: Tensor) -> Tensor:
        """Which of the participant's rewards (any shape) a win-stay/lose-shift player counts as a
        win: by default any positive reward (the bandit's paid choice)."""
        return participant_reward > 0

    def cooperation(self, participant_actions: Tensor,
                    adversary_actions: Tensor) -> tuple[Tensor, Tensor] | None:
        """How much each side gave the other on each trial, in [0, 1] (actions of any shape, -1
        for none gives 0): the IPD's cooperation, the trust game's investment and return. The
        asymmetry study's welfare and build-then-betray measures read it. None in games whose
        moves do not give anything to the other side (the default)."""
        return None

    def participant_context(self, trial: Tensor) -> Tensor | None:
        """What a person knows about this game at each trial, [*trial.shape, k] floats named by
        `spec.participant_context`, or None in games that declare none. A model of people
        fitted on data from many versions of a game (the IPD studies' payoff matrices and
        horizons) reads it, and so generalises to versions it has not seen."""
        return None

    def practice_game(self, n_trials: int) -> Game | None:
        """The game of a practice block of `n_trials` (at least 1) trials before this one: the same
        rules and proportions at that length, played against the game's baseline adversary and
        earning nothing. None for games without a practice block (the default)."""
        return None

    # --- what the participant is shown (one trial, plain Python, for the live server) --------

    def params_for_participant(self) -> dict[str, Any]:
        """The parameters the participant may know (`spec.public_params`), as plain values."""
        everything = self.params.to_mapping()
        return {name: everything[name] for name in self.spec.public_params}

    @property
    def response_window_ms(self) -> float | None:
        """The time a participant has to respond on each trial, or None where they may take their
        time. A response after it counts as `no_response_action`."""
        return None

    @property
    def no_response_action(self) -> int | None:
        """The action recorded when a participant lets the response window pass (sent without a
        reaction time), or None in games without a window."""
        return None

    def instructions_context(self) -> dict[str, Any]:
        """What the game's instructions page shows beyond its public parameters (a worked
        example, a percentage to print); nothing by default."""
        return {}

    def participant_cue(self, adversary_action: int) -> dict[str, Any]:
        """What the participant sees of the adversary's move *before* choosing (an
        ADVERSARY_FIRST game's stimulus). Nothing by default."""
        return {}

    @abstractmethod
    def participant_feedback(
        self,
        participant_action: int,
        adversary_action: int,
        participant_reward: float,
        adversary_reward: float,
    ) -> dict[str, Any]:
        """What the participant is told after the trial: never more than the rules reveal."""

    @abstractmethod
    def read_feedback(self, feedback: Mapping[str, Any]) -> tuple[int, int]:
        """The inverse of `participant_feedback`, for bots and readers of what participants saw:
        the participant's recorded action and the adversary's action as shown to them (-1 where
        the feedback does not show it)."""

    # --- helpers for subclasses ---------------------------------------------------------------

    def _check_actions(self, participant_action: Tensor, adversary_action: Tensor, batch: int):
        checks = (("participant", participant_action, len(self.spec.participant_actions)),
                  ("adversary", adversary_action, len(self.spec.adversary_actions)))
        for who, action, n in checks:
            if action.shape != (batch,):
                raise ValueError(f"{who} actions must have shape ({batch},), got {tuple(action.shape)}")
        # Both ranges in one test: reading a result on the host is a device sync on CUDA, paid on
        # every trial, so once instead of four times (min and max of each side).
        out_of_range = [(action < 0) | (action >= n) for _, action, n in checks]
        if batch and bool(torch.cat(out_of_range).any()):
            for (who, _, n), bad in zip(checks, out_of_range):
                if bool(bad.any()):
                    raise ValueError(f"{who} actions must lie in 0..{n - 1}")

    def _constant(self, name: str, make: Callable[[], Tensor], device) -> Tensor:
        """The tensor `make()` (built from this game's parameters) on `device`, built once:
        building it each trial is a host-to-device copy each trial, which on CUDA waits for the
        device. Callers must not modify it."""
        cache = self.__dict__.setdefault("_constants", {})
        key = (name, torch.device(device))
        if key not in cache:
            cache[key] = make().to(device)
        return cache[key]

    def _common_init(self, batch_size, length, device) -> dict[str, Tensor]:
        long = dict(dtype=torch.long, device=device)
        return dict(
            trial=torch.zeros(batch_size, **long),
            length=length.to(device=device, dtype=torch.long),
            last_participant_action=torch.full((batch_size,), -1, **long),
            last_adversary_action=torch.full((batch_size,), -1, **long),
            last_participant_reward=torch.zeros(batch_size, device=device),
            last_adversary_reward=torch.zeros(batch_size, device=device),
        )

    def _fixed_length(self, batch_size: int, n: int, length: Tensor | None, device) -> Tensor:
        if length is None:
            return torch.full((batch_size,), n, dtype=torch.long, device=device)
        if length.shape != (batch_size,) or bool((length != n).any()):
            raise ValueError(f"{self.spec.name} episodes always have {n} trials")
        return length

    def _advance(
        self,
        state: StateT,
        participant_action: Tensor,
        adversary_action: Tensor,
        participant_reward: Tensor,
        adversary_reward: Tensor,
        **changes: Tensor,
    ) -> tuple[StateT, StepResult]:
        """Apply one trial to the episodes that are still running; finished ones stay as they are
        and earn nothing."""
        active = ~state.done
        participant_reward = torch.where(active, participant_reward, 0.0)
        adversary_reward = torch.where(active, adversary_reward, 0.0)

        def keep_done(new: Tensor, old: Tensor) -> Tensor:
            mask = active.view(-1, *([1] * (new.dim() - 1)))
            return torch.where(mask, new, old)

        new_state = dataclasses.replace(
            state,
            trial=state.trial + active.long(),
            last_participant_action=keep_done(participant_action, state.last_participant_action),
            last_adversary_action=keep_done(adversary_action, state.last_adversary_action),
            last_participant_reward=keep_done(participant_reward, state.last_participant_reward),
            last_adversary_reward=keep_done(adversary_reward, state.last_adversary_reward),
            **{k: keep_done(v, getattr(state, k)) for k, v in changes.items()},
        )
        result = StepResult(
            participant_reward=participant_reward,
            adversary_reward=adversary_reward,
            adversary_action=adversary_action,
            done=new_state.done,
        )
        return new_state, result

    def _observation(
        self,
        state: State,
        participant_action: Tensor | None,
        info: dict[str, Tensor],
        extra_features: list[Tensor],
        reward_scale: float,
    ) -> Observation:
        """Build the common part of an observation; games add their own info and features."""
        wants_current = self.spec.turn_order is TurnOrder.PARTICIPANT_FIRST
        if wants_current and participant_action is None:
            raise ValueError(f"{self.spec.name}: the adversary moves after the participant; "
                             "pass the participant's action")
        if not wants_current and participant_action is not None:
            raise ValueError(f"{self.spec.name}: the adversary must decide without seeing "
                             "the participant's current action")
        n_p, n_a = len(self.spec.participant_actions), len(self.spec.adversary_actions)
        features = [
            _one_hot_or_none(state.last_participant_action, n_p),
            _one_hot_or_none(state.last_adversary_action, n_a),
            (state.last_participant_reward / reward_scale).unsqueeze(1),
            (state.last_adversary_reward / reward_scale).unsqueeze(1),
            (state.trial.float() / self.max_trials).unsqueeze(1),
            *extra_features,
        ]
        return Observation(
            trial=state.trial,
            last_participant_action=state.last_participant_action,
            last_adversary_action=state.last_adversary_action,
            last_participant_reward=state.last_participant_reward,
            last_adversary_reward=state.last_adversary_reward,
            participant_action=participant_action,
            action_mask=self.adversary_action_mask(state),
            info=info,
            features=torch.cat(features, dim=1),
        )


def _one_hot_or_none(action: Tensor, n: int) -> Tensor:
    """One-hot over n actions plus a last column meaning 'no action yet' (action == -1)."""
    index = torch.where(action < 0, n, action)
    return torch.nn.functional.one_hot(index, n + 1).float()
