"""The budget rule shared by the bandit and go/no-go.

Both games give the adversary a fixed number of events to place over a fixed number of trials
(25 rewards per option in 100 trials; 35 no-go trials in 350), and the total must come out exact.
So at each trial, for each budget:

- an event is *withheld* when its budget is spent (nothing left to place), and
- an event is *forced* when what is left equals the trials left (every remaining trial needs one).

Adversary actions in these games are bit masks over the budgets: bit k set means "place an event
of budget k on this trial" (bandit: reward on option k; go/no-go: make it a no-go trial).
"""

from abc import abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor

from .base import Game, ParamsT, State


def enforce(requested: Tensor, budget_left: Tensor, trials_left: Tensor) -> Tensor:
    """Apply the rule to requested events. All arguments are [B, K] except trials_left [B]."""
    trials_left = trials_left.unsqueeze(1)
    forced = (budget_left >= trials_left) & (trials_left > 0)  # a finished episode places nothing
    return (requested & (budget_left > 0) & (trials_left > 0)) | forced


def allowed(budget_left: Tensor, trials_left: Tensor) -> tuple[Tensor, Tensor]:
    """([B, K] may withhold, [B, K] may place) under the rule. A finished episode may only
    withhold."""
    trials_left = trials_left.unsqueeze(1)
    return (budget_left < trials_left) | (trials_left <= 0), (budget_left > 0) & (trials_left > 0)


def action_to_bits(action: Tensor, n_budgets: int) -> Tensor:
    """[...] action -> [..., K] bool, bit k of the action (whether budget k's event is placed)."""
    shifts = torch.arange(n_budgets, device=action.device)
    return ((action.unsqueeze(-1) >> shifts) & 1).bool()


def bits_to_action(bits: Tensor) -> Tensor:
    """[B, K] bool -> [B] action."""
    weights = 1 << torch.arange(bits.shape[1], device=bits.device)
    return (bits.long() * weights).sum(dim=1)


def action_mask(budget_left: Tensor, trials_left: Tensor) -> Tensor:
    """[B, 2**K] bool: the bit-mask actions that respect the rule for every budget."""
    n_budgets = budget_left.shape[1]
    may_withhold, may_place = allowed(budget_left, trials_left)
    # One column per action, ANDed over the budgets with plain Python bit tests: K is 1 or 2, and
    # this is a third of the cost of broadcasting to [B, A, K] and reducing, on every trial of a
    # rollout (experiments/bench_rollout.py).
    columns = []
    for action in range(2**n_budgets):
        ok = None
        for k in range(n_budgets):
            rule = (may_place if action >> k & 1 else may_withhold)[:, k]
            ok = rule if ok is None else ok & rule
        columns.append(ok)
    return torch.stack(columns, dim=1)


@dataclass(frozen=True)
class BudgetState(State):
    budget_left: Tensor  # [B, K] long, events still to place per budget
    # [B, K] long, trials since the budget's last event (0 right after one); the game's length
    # before its first, so that any spacing counts as met there.
    since_event: Tensor


class BudgetedGame(Game[ParamsT, BudgetState]):
    """A fixed-length ADVERSARY_FIRST game whose adversary places budgeted events (the bandit's
    rewards, go/no-go's no-go trials). Subclasses give `budgets` and the payoffs in `step`.

    Observation info: `budget_left` [B, K] events still to place per budget; `trials_left` [B];
    `since_event` [B, K] trials since each budget's last event.
    """

    @property
    @abstractmethod
    def budgets(self) -> tuple[int, ...]:
        """Events each budget must place over the game."""

    @property
    def paced_budget(self) -> int | None:
        """The budget whose events a trained adversary is paid for placing at once
        (adversary_training.pacing_rewards): the one it is tempted to hold back. None: no pacing."""
        return None

    @property
    def lead_budget(self) -> int | None:
        """The budget whose events a plan is tempted to spend early (lead_mask): the one that, spent
        before the end, leaves a person nothing to win late. None: no lead rule."""
        return None

    @property
    def spaced_budget(self) -> int | None:
        """The budget whose events a spacing rule keeps apart (spacing_mask): the one whose events,
        placed close together, a person answers differently than a model extrapolates. None: no
        spacing."""
        return None

    @property
    def max_trials(self) -> int:
        return self.params.trials

    @property
    def reward_scale(self) -> float:
        return 1.0

    def init(self, batch_size, *, generator=None, device="cpu", length=None) -> BudgetState:
        length = self._fixed_length(batch_size, self.params.trials, length, device)
        budget_left = torch.tensor(self.budgets, dtype=torch.long, device=device).repeat(batch_size, 1)
        since_event = torch.full_like(budget_left, self.max_trials)
        return BudgetState(**self._common_init(batch_size, length, device), budget_left=budget_left,
                           since_event=since_event)

    def trials_left(self, state: BudgetState) -> Tensor:
        return state.length - state.trial

    def adversary_action_mask(self, state: BudgetState) -> Tensor:
        return action_mask(state.budget_left, self.trials_left(state))

    def observe(self, state: BudgetState, participant_action: Tensor | None = None):
        trials_left = self.trials_left(state)
        info = {"budget_left": state.budget_left, "trials_left": trials_left, "since_event": state.since_event}
        sizes = self._constant("budget_sizes", lambda: torch.tensor(self.budgets).clamp_min(1),
                               state.device)
        extra = [state.budget_left.float() / sizes, (trials_left.float() / self.params.trials).unsqueeze(1)]
        return self._observation(state, participant_action, info, extra, self.reward_scale)

    def pace_mask(self, budget_left: Tensor, trials_left: Tensor, lag: int) -> Tensor:
        """[B, A] bool: the actions that keep the paced budget within `lag` events of its even
        pace, where it may place at all. Withholding its event is refused once more is left than
        budget * trials_left / trials + lag; with lag >= budget nothing is refused. The even pace
        is a guard against a model's extrapolation: a plan may hold the other option's rewards for
        the last trials only because the surrogate, fitted on schedules that never did this,
        predicts no cost, while every value learner of the zoo then turns away (docs/loop.md)."""
        paced = self.paced_budget
        if paced is None:
            return self._refuses_nothing(budget_left)
        budget = self.budgets[paced]
        left = budget_left[:, paced].float()
        behind = left > budget * trials_left.float() / self.params.trials + lag
        must_place = behind & allowed(budget_left, trials_left)[1][:, paced]
        return ~must_place.unsqueeze(1) | self._actions_placing(paced, budget_left.device).unsqueeze(0)

    def lead_mask(self, budget_left: Tensor, trials_left: Tensor, lead: int) -> Tensor:
        """[B, A] bool: the actions that keep the lead budget within `lead` events ahead of its even
        pace. Placing its event is refused when fewer would be left after it than
        budget * (trials_left - 1) / trials - lead; the game's rule never forces such a placement
        (it forces one only when as many are left as trials). The mirror of pace_mask, and a guard
        of the same kind: a plan may spend the target's rewards early only because the surrogate,
        fitted on schedules that never did this, predicts people stay on the target once they
        stop (docs/loop.md)."""
        budget_index = self.lead_budget
        if budget_index is None:
            return self._refuses_nothing(budget_left)
        budget = self.budgets[budget_index]
        left_after = budget_left[:, budget_index].float() - 1
        ahead = left_after < budget * (trials_left.float() - 1) / self.params.trials - lead
        places = self._actions_placing(budget_index, budget_left.device).unsqueeze(0)
        return ~(ahead.unsqueeze(1) & places)

    def spacing_mask(self, budget_left: Tensor, trials_left: Tensor, since_event: Tensor, gap: int) -> Tensor:
        """[B, A] bool: the actions that keep at least `gap` trials without the spaced budget's event
        between two of its events, and leave room to place the rest so spaced. Placing is refused
        until `gap` trials have passed since the last event; withholding is refused when the rest
        would no longer fit: b events left need max(0, gap - since) + 1 + (b - 1)(gap + 1) trials.
        A state where neither fits (a gap the budget never allowed) refuses both; the caller falls
        back on the game's own rule there. The spacing guards against a model's extrapolation, as
        the pace rule does: a plan against the go/no-go surrogate put no-go trials late and close
        together, which the surrogate, fitted on random schedules, predicted would raise errors,
        while learners who err after long runs of go trials erred less than under a random
        schedule (docs/loop.md)."""
        spaced = self.spaced_budget
        if spaced is None:
            return self._refuses_nothing(budget_left)
        left, since = budget_left[:, spaced], since_event[:, spaced]

        def room_needed(since: Tensor) -> Tensor:
            needed = (gap - since).clamp_min(0) + 1 + (left - 1) * (gap + 1)
            return torch.where(left > 0, needed, torch.zeros_like(needed))

        may_place = (since >= gap) | (left == 0)  # nothing left: the game's rule alone
        may_withhold = trials_left - 1 >= room_needed(since + 1)
        places = self._actions_placing(spaced, budget_left.device).unsqueeze(0)
        return torch.where(places, may_place.unsqueeze(1), may_withhold.unsqueeze(1))

    def _actions_placing(self, budget: int, device) -> Tensor:
        """[A] bool: which bit-mask actions place an event of `budget`."""
        return action_to_bits(torch.arange(2 ** len(self.budgets), device=device), len(self.budgets))[:, budget]

    def _refuses_nothing(self, budget_left: Tensor) -> Tensor:
        """[B, A] all True: a rule on a budget the game does not have."""
        return torch.ones(budget_left.shape[0], 2 ** len(self.budgets), dtype=torch.bool, device=budget_left.device)

    def place_events(self, state: BudgetState, adversary_action: Tensor) -> tuple[Tensor, Tensor]:
        """Apply the budget rule to the requested events: ([B, K] bool placed, [B] applied action)."""
        requested = action_to_bits(adversary_action, len(self.budgets))
        placed = enforce(requested, state.budget_left, self.trials_left(state))
        return placed, bits_to_action(placed)

    def after_placing(self, state: BudgetState, placed: Tensor) -> dict[str, Tensor]:
        """The budget fields of the state after a trial that placed `placed` [B, K] (for _advance)."""
        since_event = torch.where(placed, 0, (state.since_event + 1).clamp_max(self.max_trials))
        return {"budget_left": state.budget_left - placed.long(), "since_event": since_event}
