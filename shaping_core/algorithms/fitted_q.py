"""Fitted Q iteration by backward induction: a shaping adversary planned against the surrogate.

PPO learns from sampled episodes, and in the bandit most of what it samples is noise: whether a
reward placed now pays off shows up, if at all, as a few more target choices fifty trials later,
among a hundred coin flips of the participant. But the surrogate is a known model. Given its
hidden state h_t and the game state at trial t, the participant's next choice has known
probabilities, and the next state is a known function of (adversary action, choice). So the
Bellman backup can be taken exactly, with no sampling noise at all:

    Q_t(s, a) = sum_c p(c | h_t, a) [ r(s, a, c) + max_{a' allowed in s'} Q_{t+1}(s', a') ],
    s' = (game.step(s, c, a), surrogate.step(h_t, what the participant saw)),   Q_T = 0.

Q_t is a small MLP of the features a shaping adversary reads (policies/shaping_q.py), fitted by
regression on those exact targets at states sampled at trial t; t runs from the last trial back to
the first, so every target uses the already-fitted Q_{t+1} (finite-horizon dynamic programming
with a learned function, as in fitted Q iteration, Ernst et al. 2005; the exact DP for a known
Q-learner is experiments/bandit_optimum.py). The states come from playing the surrogate:

- pass 0: every episode draws its own random preferences over the adversary's actions, so that
  budgets are spent early in some episodes and late in others;
- every later pass: the greedy policy of the previous pass with `explore` random actions, mixed
  half and half with the previous pass's states, so that Q is accurate where a good adversary
  goes.

**Against a population.** A robust adversary plans against people it cannot identify in advance:
`population` (the surrogate together with learner-zoo families, learners/population.py) replaces
the surrogate as the model of the person. Each sampled episode is one person of one member, and its
backup takes the choice probabilities of *that* person's own state,

    Q_t(x, a) = E[ sum_c p_person(c | state_t, a) [ r + max_{a'} Q_{t+1}(x', a') ] | x ],

while Q still reads only the features x the adversary has when it plays (its own copy of the
surrogate run on the person's trials). Regression on these targets averages them over the people
that look alike to the adversary: the expected value, under the population, of a policy that acts
on x (the same holds for the sampling noise of the choices in the single-model case).

Each pass ends with the greedy policy played against the model of the person
(`eval_episodes_per_pass` episodes), the learning curve. Objective MAX only (the adversary's own game reward), in games
where the adversary moves first (the bandit, go/no-go): there the participant's choice
probabilities after each adversary action are one surrogate step away.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from joblib import Parallel, delayed
from torch import Tensor
from tqdm import tqdm

from ..games import Game, Objective, Sight, State, TurnOrder
from ..params import check_at_least_one, check_not_negative
from ..participants import ParticipantModel, map_batched, participant_view
from ..policies.shaping import view_from_observation
from ..policies.shaping_q import PlanMean, QShapingAdversary
from ..evaluation import evaluate
from ..surrogate.model import SurrogateNet, SurrogateParticipant


@dataclass
class FittedQSettings:
    """Everything that sets a fitted-Q run; `train-adversary --method fitted-q` has a flag for
    each field."""

    objective: str = "max"
    """The only one: the adversary's own game reward."""
    passes: int = 3
    """Rounds of (sample states, fit every trial's Q backwards, evaluate)."""
    episodes: int = 8192
    """Episodes sampled per pass; each gives one state per trial."""
    fit_steps: int = 300
    """Adam steps fitting each trial's Q (twice as many for the last trial, fitted from scratch)."""
    minibatch: int = 1024
    """States per Adam step."""
    width: int = 128
    """Hidden units of each trial's Q network (two hidden layers); the checkpoint's size grows with
    it (docs/loop.md)."""
    learning_rate: float = 1e-3
    """Adam step size; small, since each trial's Q starts from the next trial's weights."""
    explore: float = 0.1
    """Share of random actions when sampling states from the greedy policy."""
    pace_lag: int | None = None
    """Plan within the pace rule: the game's paced budget (the bandit: the other option's rewards)
    stays within this many events of its even pace, in training and in play (QShapingParams);
    None: only the game's own rules."""
    pace_lead: int | None = None
    """Plan within the lead rule: the game's lead budget (the bandit: the target's rewards) runs at
    most this many events ahead of its even pace, in training and in play (QShapingParams); None:
    only the game's own rules."""
    min_gap: int | None = None
    """Plan and play under the spacing rule: at least this many trials between two events of the
    game's spaced budget (go/no-go: go trials between two no-go trials; policies/schedule_rules.py);
    None: no spacing."""
    seed: int = 0
    """Seed of the sampled episodes, the networks' initial weights and every draw; with several
    plans, plan k draws with seed * plans + k (`plan_seeds`), so runs with neighbouring seeds share
    no plan."""
    plans: int = 1
    """Independent plans, fitted alike with their own seeds; the adversary plays greedily on the
    mean of their Q-functions (policies/shaping_q.py, PlanMean). On a CPU they run side by side,
    one torch thread each, on as many as the run was given (`--threads`); the result does not
    depend on how many."""
    eval_episodes: int = 4096
    """Episodes of the final evaluation (adversary_training.run_training)."""
    eval_episodes_per_pass: int = 1024
    """Episodes the greedy policy plays after each pass (the learning curve)."""

    def __post_init__(self):
        if self.objective != Objective.MAX:
            raise ValueError(f"fitted Q iteration trains the max objective only, not {self.objective!r}")
        self.objective = str(Objective.MAX.value)
        check_at_least_one(self, ("passes", "episodes", "fit_steps", "minibatch", "width", "plans",
                                  "eval_episodes", "eval_episodes_per_pass"))
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        check_not_negative(self, ("pace_lag", "pace_lead", "min_gap"))
        if not 0 <= self.explore <= 1:
            raise ValueError(f"explore must lie in [0, 1], got {self.explore}")


@dataclass
class TrialStates:
    """States sampled at one trial: the game's, the surrogate's hidden state [1, N, H] after
    reading the previous trial, the adversary's features [N, F] and allowed actions [N, A], and,
    when planning against a population, the person's state before this trial's `act` (None when
    the adversary's own surrogate is the model of the person)."""

    game_state: State
    hidden: Tensor
    features: Tensor
    mask: Tensor
    person: Any = None

    def take(self, rows: Tensor, population: ParticipantModel | None) -> TrialStates:
        return TrialStates(map_batched(lambda x: x[rows], self.game_state), self.hidden[:, rows],
                           self.features[rows], self.mask[rows],
                           None if population is None else population.select(self.person, rows))

    @staticmethod
    def cat(parts: list[TrialStates], population: ParticipantModel | None) -> TrialStates:
        game_state = map_batched(lambda *xs: torch.cat(xs), *(p.game_state for p in parts))
        return TrialStates(game_state, torch.cat([p.hidden for p in parts], dim=1),
                           torch.cat([p.features for p in parts]), torch.cat([p.mask for p in parts]),
                           None if population is None else population.concatenate([p.person for p in parts]))


def check_game(game: Game) -> None:
    if game.spec.turn_order is not TurnOrder.ADVERSARY_FIRST:
        raise ValueError(f"fitted Q iteration needs a game where the adversary moves first; "
                         f"{game.spec.label} is {game.spec.turn_order}")


def surrogate_features(adversary: QShapingAdversary, state: State, hidden: Tensor
                       ) -> tuple[Tensor, Tensor, Tensor]:
    """At the start of a trial: the surrogate reads the previous trial; returns (hidden, features,
    allowed actions), exactly as QShapingAdversary.act_with_features computes them."""
    game, surrogate = adversary.game, adversary.surrogate
    observation = game.observe(state)
    hidden = surrogate.step(view_from_observation(game, observation), hidden)
    return hidden, adversary.features(observation, hidden), adversary.allowed_actions(observation)


def choice_probabilities(adversary: QShapingAdversary, state: State, hidden: Tensor,
                         adversary_action: Tensor) -> Tensor:
    """[N, C] the surrogate participant's choice probabilities after `adversary_action` (which
    matters only where the participant sees it as a cue, as in go/no-go)."""
    view = participant_view(adversary.game, state, adversary_action)
    return torch.softmax(adversary.surrogate.logits_for(hidden[-1], view.cue), dim=-1)


def person_probabilities(population: ParticipantModel, states: TrialStates, n_actions: int) -> Tensor:
    """[N, A, C] each sampled person's choice probabilities after each adversary action, from
    their own state. One `act` per action where the person sees the action as a cue (go/no-go);
    one for all where they do not (the bandit's rewards are seen only after the choice)."""
    game, state = population.game, states.game_state
    if game.spec.participant_sees is not Sight.CUE:
        probs, _ = population.act(participant_view(game, state), states.person)
        return probs.unsqueeze(1).expand(-1, n_actions, -1)
    return torch.stack([population.act(participant_view(game, state, torch.full_like(state.trial, a)),
                                       states.person)[0] for a in range(n_actions)], dim=1)


@torch.no_grad()
def backup(adversary: QShapingAdversary, states: TrialStates, trial: int,
           population: ParticipantModel | None = None) -> Tensor:
    """[N, A] exact Bellman targets of Q_trial, from the fitted Q_{trial+1} in adversary.net
    (Q_T = 0), with the choice probabilities of `population`'s sampled people where given, else of
    the adversary's surrogate. Entries for actions the rules forbid are meaningless (masked in the
    loss)."""
    game, net = adversary.game, adversary.net
    n, n_actions = states.features.shape[0], adversary.n_actions
    n_choices = len(game.spec.participant_actions)
    # Every (state, action, choice) triple as one row: [N * A * C].
    rows = torch.arange(n, device=states.features.device).repeat_interleave(n_actions * n_choices)
    actions = torch.arange(n_actions, device=rows.device).repeat_interleave(n_choices).repeat(n)
    choices = torch.arange(n_choices, device=rows.device).repeat(n * n_actions)
    game_state, hidden = map_batched(lambda x: x[rows], states.game_state), states.hidden[:, rows]
    if population is None:
        probs = choice_probabilities(adversary, game_state, hidden, actions).gather(1, choices[:, None]).squeeze(1)
    else:  # rows run over (state, action, choice) in that order, as the [N, A, C] tensor does
        probs = person_probabilities(population, states, n_actions).reshape(-1)
    next_state, result = game.step(game_state, choices, actions)
    value = result.adversary_reward
    if trial + 1 < net.n_trials:
        _, features, mask = surrogate_features(adversary, next_state, hidden)
        q_next = net.at(trial + 1, features).masked_fill(~mask, float("-inf"))
        value = value + q_next.max(dim=1).values
    return (probs * value).view(n, n_actions, n_choices).sum(dim=2)


@torch.no_grad()
def sample_states(adversary: QShapingAdversary, episodes: int, behaviour: str, settings: FittedQSettings,
                  generator: torch.Generator, device, population: ParticipantModel | None = None,
                  ) -> list[TrialStates]:
    """Play `episodes` against the surrogate (or `population`) and keep the states of every trial.
    `behaviour` is "random" (per-episode random action preferences) or "greedy" (greedy on
    adversary.net, with settings.explore random actions)."""
    game = adversary.game
    state = game.init(episodes, generator=generator, device=device)
    hidden = adversary.surrogate.initial_hidden(episodes, device)
    person = None if population is None else population.reset(episodes, generator=generator, device=device)
    # Dirichlet(1, ..., 1) preferences over the actions: Exp(1) draws (normalised by multinomial).
    preferences = -torch.log1p(-torch.rand(episodes, adversary.n_actions, generator=generator, device=device))
    kept = []
    for trial in range(game.max_trials):
        hidden, features, mask = surrogate_features(adversary, state, hidden)
        kept.append(TrialStates(state, hidden, features, mask, person))
        if behaviour == "random":
            # A draw of exactly 0 for every allowed action is all but impossible; the tiny floor
            # keeps multinomial valid even then.
            action = torch.multinomial((preferences + 1e-12) * mask, 1, generator=generator).squeeze(1)
        else:
            greedy = adversary.net.at(trial, features).masked_fill(~mask, float("-inf")).argmax(dim=1)
            uniform = torch.multinomial(mask.float(), 1, generator=generator).squeeze(1)
            explore = torch.rand(episodes, generator=generator, device=device) < settings.explore
            action = torch.where(explore, uniform, greedy)
        if population is None:
            probs = choice_probabilities(adversary, state, hidden, action)
        else:
            probs, person = population.act(participant_view(game, state, action), person)
        choice = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        state, _ = game.step(state, choice, action)
    return kept


def fit_trial(adversary: QShapingAdversary, states: TrialStates, trial: int,
              settings: FittedQSettings, generator: torch.Generator,
              population: ParticipantModel | None = None) -> float:
    """Fit Q_trial to its exact targets (masked MSE); returns the RMSE on all the states, in units
    of the game's rewards."""
    net = adversary.net
    target = backup(adversary, states, trial, population) / net.scale(trial)
    mask = states.mask.float()
    target = torch.where(states.mask, target, 0.0)
    mlp = net.trials[trial]
    last = trial + 1 >= net.n_trials
    if not last:  # start from the next trial's function: neighbouring Q_t are alike
        mlp.load_state_dict(net.trials[trial + 1].state_dict())
    optimizer = torch.optim.Adam(mlp.parameters(), lr=settings.learning_rate * (3 if last else 1))
    n = states.features.shape[0]
    with torch.enable_grad():
        for _ in range(settings.fit_steps * (2 if last else 1)):
            rows = torch.randint(n, (min(settings.minibatch, n),), generator=generator,
                                 device=generator.device)
            error = (net.per_trial(trial, states.features[rows]) - target[rows]) ** 2 * mask[rows]
            loss = error.sum() / mask[rows].sum().clamp_min(1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        error = (net.per_trial(trial, states.features) - target) ** 2 * mask
        return float((error.sum() / mask.sum()).sqrt() * net.scale(trial))


def fit_q_adversary(game: Game, surrogate: SurrogateNet, settings: FittedQSettings, *,
                    device: torch.device | str = "cpu", progress: bool = True,
                    population: ParticipantModel | None = None,
                    ) -> tuple[QShapingAdversary, list[dict[str, float]]]:
    """Plan an adversary against the surrogate, or against `population` (e.g. the surrogate
    together with learner-zoo families); the adversary reads the surrogate's summary of the person
    either way. Return it and one learning-curve row per pass (per plan and pass, marked `plan`,
    with several plans)."""
    check_game(game)
    if settings.plans == 1:
        return fit_plan(game, surrogate, settings, device=device, progress=progress, population=population)
    each = [dataclasses.replace(settings, plans=1, seed=seed) for seed in plan_seeds(settings)]
    side_by_side = min(settings.plans, torch.get_num_threads()) if torch.device(device).type == "cpu" else 1
    if side_by_side > 1:
        fitted = Parallel(n_jobs=side_by_side)(
            delayed(fit_plan_on_one_thread)(game, surrogate, plan, progress, population) for plan in each)
    else:
        fitted = [fit_plan(game, surrogate, plan, device=device, progress=progress, population=population)
                  for plan in each]
    adversary = QShapingAdversary(game, schedule_rules(settings), surrogate=surrogate,
                                  net=PlanMean([plan.net for plan, _ in fitted]))
    adversary.reset(1, device)
    curve = [{"plan": k, "seed": plan.seed, **row}
             for k, (plan, (_, rows)) in enumerate(zip(each, fitted)) for row in rows]
    return adversary, curve


def schedule_rules(settings: FittedQSettings) -> dict[str, int | None]:
    """The adversary's parameters (QShapingParams): the rules it plans and plays under."""
    return {"pace_lag": settings.pace_lag, "pace_lead": settings.pace_lead, "min_gap": settings.min_gap}


def plan_seeds(settings: FittedQSettings) -> list[int]:
    return [settings.seed * settings.plans + k for k in range(settings.plans)]


def fit_plan_on_one_thread(game: Game, surrogate: SurrogateNet, settings: FittedQSettings, progress: bool,
                           population: ParticipantModel | None) -> tuple[QShapingAdversary, list[dict[str, float]]]:
    """`fit_plan` on the CPU in a worker process of its own, on one torch thread (as a plan run
    alone with `--threads 1`, bit for bit)."""
    torch.set_num_threads(1)
    return fit_plan(game, surrogate, settings, progress=progress, population=population)


def fit_plan(game: Game, surrogate: SurrogateNet, settings: FittedQSettings, *,
             device: torch.device | str = "cpu", progress: bool = True,
             population: ParticipantModel | None = None,
             ) -> tuple[QShapingAdversary, list[dict[str, float]]]:
    """One plan, by `settings.seed`: the passes of sampling, backward fitting and evaluation."""
    torch.manual_seed(settings.seed)
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    adversary = QShapingAdversary(game, schedule_rules(settings), surrogate=surrogate, width=settings.width)
    adversary.reset(1, device)  # moves the networks to the device
    adversary.net.requires_grad_(True)
    participant = population if population is not None else SurrogateParticipant(game, surrogate.to(device))
    curve = []
    states: list[TrialStates] | None = None
    for iteration in range(settings.passes):
        fresh = settings.episodes if states is None else settings.episodes // 2
        sampled = sample_states(adversary, fresh, "random" if states is None else "greedy",
                                settings, generator, device, population)
        if states is not None:  # keep half of the previous pass's states
            kept = torch.arange(settings.episodes - fresh, device=device)
            sampled = [TrialStates.cat([old.take(kept, population), new], population)
                       for old, new in zip(states, sampled)]
        states = sampled
        errors = []
        for trial in tqdm(reversed(range(game.max_trials)), total=game.max_trials,
                          desc=f"seed {settings.seed}, pass {iteration + 1}/{settings.passes}", disable=not progress):
            errors.append(fit_trial(adversary, states[trial], trial, settings, generator, population))
        with torch.no_grad():
            first = states[0]
            predicted = adversary.net.at(0, first.features).masked_fill(~first.mask, float("-inf"))
        row = {"iteration": iteration,
               **evaluate(game, adversary, participant, settings.eval_episodes_per_pass,
                          seed=settings.seed + 1000 + iteration, device=device),
               "predicted_adversary_return": float(predicted.max(dim=1).values.mean()),
               "fit_rmse_mean": sum(errors) / len(errors), "fit_rmse_max": max(errors)}
        curve.append(row)
    adversary.net.requires_grad_(False)
    return adversary, curve
