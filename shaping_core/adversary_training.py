"""Training a shaping adversary against a human surrogate, and evaluating adversaries.

The second half of Dezfouli, Nock & Dayan's loop: a fitted surrogate (shaping_core/surrogate)
plays thousands of "participants" in parallel on the batched game rules (simulation.py), and a
`ShapingAdversary` (policies/shaping.py: a GRU reading the game and the surrogate's state and
predicted choices) is trained against them with PPO. The objective sets the adversary's reward:

- MAX     its own reward in the game: target choices in the bandit, errors in go/no-go, the
          trustee's earnings in the trust game, its points in the IPD;
- FAIR    minus the gap between the two sides' total earnings (trust game, IPD), paid as it
          changes: r_t = -(|G_t| - |G_{t-1}|) with G_t the running difference, so the rewards of an
          episode sum to -|G_T|;
- ADALIGN Advantage Alignment (algorithms/adalign.py) with the surrogate as the opponent: MAX's
          reward plus the opponent-shaping term built from a second critic of the participant's
          rewards.

The bandit's training reward also carries a potential-based pacing term (`pacing_rewards`), which
leaves the best policy unchanged and only helps PPO find it.

Every run writes to its output folder: config.json (settings, seed, surrogate provenance,
versions), metrics.json (learning curve and the final evaluation against the surrogate next to a
classic baseline), learning_curve.png, and the checkpoint (loadable with
policies.checkpoint.load_policy, servable by the platform).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from .algorithms.actor_critic import Learner
from .algorithms.adalign import AdAlignLearner, adalign_update
from .algorithms.fitted_q import FittedQSettings, fit_q_adversary
from .algorithms.ppo import ppo_update
from .algorithms.rollout import Trajectory
from .arguments import add_settings_options
from .evaluation import evaluate, summarize
from .games import Game, Objective
from .games.budget import action_to_bits
from .learners.zoo import has_zoo
from .params import check_at_least_one, check_not_negative
from .participants import ParticipantModel
from .policies import make_policy
from .policies.checkpoint import save_policy
from .policies.gru import GRUNet
from .policies.shaping import ShapingAdversary
from .run_dir import RunDir
from .simulation import Episodes, play_episodes
from .surrogate.model import SurrogateNet, SurrogateParticipant
from .transfer import TrainingPopulation, evaluate_against_zoo

@dataclass
class AdversarySettings:
    """Everything that sets how a GRU adversary is trained with PPO (and, for ADALIGN, Advantage
    Alignment), in one flat list. The defaults train the bandit's MAX adversary in a few minutes on
    a CPU. `train-adversary` has a flag for each field (`--policy-lr` for `policy_lr`, ...), with
    the field's docstring as its help."""

    objective: str = "max"
    """What the adversary is paid for: max, fair or adalign (the module docstring)."""
    seed: int = 0
    """Seed of the networks' initial weights, the surrogate participants and every draw."""
    iterations: int = 150
    """PPO batches: each plays `batch_size` episodes and then updates the adversary."""
    batch_size: int = 512
    """Episodes (surrogate or zoo participants) per batch."""
    hidden_size: int = 32
    """Units of the adversary's GRU and of its critics' GRUs."""
    eval_episodes: int = 4096
    """Episodes of the final evaluation against the surrogate and the baseline."""
    gamma: float = 1.0
    """Discount. Episodes are finite and every objective is their undiscounted total; with 0.99
    the bandit's adversary became myopic (docs/loop.md)."""
    gae_lambda: float = 0.95
    """GAE's lambda: 0 gives one-step TD errors, 1 Monte Carlo returns."""
    policy_lr: float = 3e-3
    """Adam step size of the policy."""
    critic_lr: float = 3e-3
    """Adam step size of the critic(s)."""
    critic_steps: int = 4
    """Critic regression steps per set of targets."""
    critic_refits: int = 1
    """Times per batch the GAE targets are recomputed and the critics fitted to them."""
    entropy_coef: float = 0.01
    """Weight of the entropy bonus."""
    clip: float = 0.2
    """PPO's epsilon: the policy ratio is clipped to [1 - clip, 1 + clip]."""
    epochs: int = 4
    """PPO passes over each batch."""
    minibatches: int = 4
    """Minibatches each pass splits the batch's episodes into."""
    normalize_advantages: bool = True
    """Divide the advantages (ADALIGN: A*) by their batch standard deviation before a step."""
    proximal: bool = True
    """ADALIGN: step on A* inside PPO's clipped objective instead of one plain policy-gradient step."""
    beta: float = 1.0
    """ADALIGN: strength of the opponent-shaping term (0 gives MAX's learner)."""
    normalize_past: bool = True
    """ADALIGN: use the running mean P_t / t of the past advantages instead of their sum."""
    alignment_lambda: float | None = 0.0
    """ADALIGN: GAE lambda of the advantages inside the shaping term (None: gae_lambda). 0 uses
    one-step TD errors, so the term measures reciprocity rather than the noise of long sums."""
    pacing_weight: float = 1.0
    """Points per event of the potential-based pacing term of budgeted games (`pacing_rewards`);
    0 turns it off."""
    anneal_lr: bool = True
    """Decay both step sizes linearly to 0 over training."""
    min_gap: int | None = None
    """Train and play under the spacing rule: at least this many trials between two events of the
    game's spaced budget (go/no-go: go trials between two no-go trials; ShapingParams); None: no
    spacing."""

    def __post_init__(self):
        if self.objective not in tuple(Objective):
            raise ValueError(f"unknown objective {self.objective!r}; expected one of "
                             f"{', '.join(Objective)}")
        # A plain string: checkpoints store the settings and load with weights_only=True.
        self.objective = str(Objective(self.objective).value)
        check_at_least_one(self, ("iterations", "batch_size", "hidden_size", "eval_episodes"))
        check_not_negative(self, ("pacing_weight", "min_gap"))


def fairness_rewards(participant_rewards: Tensor, adversary_rewards: Tensor) -> Tensor:
    """r_t = -(|G_t| - |G_{t-1}|), G_t = running (participant - adversary) earnings; sums to -|G_T|."""
    gap = (participant_rewards - adversary_rewards).cumsum(dim=1).abs()
    return -(gap - torch.nn.functional.pad(gap, (1, 0))[:, :-1])


def objective_rewards(objective: str, episodes: Episodes) -> Tensor:
    """The adversary's training reward [B, T] under `objective`."""
    if objective == Objective.FAIR:
        return fairness_rewards(episodes.participant_rewards, episodes.adversary_rewards)
    return episodes.adversary_rewards  # MAX; ADALIGN adds its shaping term in the update


def pacing_rewards(game: Game, settings: AdversarySettings, episodes: Episodes) -> Tensor:
    """Potential-based shaping (Ng, Harada & Russell 1999) of a budgeted game's adversary reward
    [B, T], in the adversary's points:

        Phi(s) = -w * (events of the game's paced budget still to place)
        F_t    = gamma * Phi(s_{t+1}) - Phi(s_t)

    so placing one of them pays about w at once (w = `pacing_weight`, in points per event). The
    whole budget must be placed by the end, so with gamma = 1 the F_t of an episode add up to the
    same total whatever the adversary does: the best policy is unchanged (for any gamma, by Ng et
    al.'s theorem), and the term only moves credit to the trial where the event was placed.

    The bandit paces the other option's rewards: without the term PPO held them back until the
    budget rule forced all of them into the last trials, where the participant, rewarded on every
    one, switched away from the target. Against a Q-learner (beta 8) whose optimum is 0.802
    (experiments/bandit_optimum.py), PPO with gamma 1 reached a target rate of 0.74 without it and
    0.789 +- 0.001 (3 seeds) with it (docs/loop.md). Games without a paced budget (go/no-go: paying
    for each no-go made PPO place them all early, docs/loop.md): zeros.
    """
    paced = getattr(game, "paced_budget", None)
    if paced is None or settings.pacing_weight == 0:
        return torch.zeros_like(episodes.adversary_rewards)
    bits = action_to_bits(episodes.adversary_actions, len(game.budgets))  # [B, T, K] as applied
    placed = bits[..., paced].float() * episodes.active
    left_before = game.budgets[paced] - (placed.cumsum(dim=1) - placed)
    potential_before = -settings.pacing_weight * left_before
    potential_after = -settings.pacing_weight * (left_before - placed)
    return (settings.gamma * potential_after - potential_before) * episodes.active


def trajectory_of(game: Game, settings: AdversarySettings, episodes: Episodes) -> Trajectory:
    """The adversary's batch for the update.

    Rewards are divided by the game's reward_scale and by the horizon the returns add up over (the
    episode's trials, or 1 / (1 - gamma) if discounting cuts them shorter), so returns are of order
    one whatever the game's points, which the critics (small GRUs trained with a few Adam steps per
    batch) need; advantages are normalised anyway.

    Every episode really ends after its last trial (`dones`): nothing comes after it, so no
    critic's guess of a value there enters the returns.
    """
    horizon = float(game.max_trials) if settings.gamma >= 1 else min(game.max_trials, 1 / (1 - settings.gamma))
    scale = 1 / (game.reward_scale * horizon)
    active = episodes.active
    ends = active & ~torch.nn.functional.pad(active[:, 1:], (0, 1), value=False)
    return Trajectory(features=episodes.adversary_features, actions=episodes.adversary_actions,
                      log_probs=episodes.adversary_log_probs,
                      rewards=(objective_rewards(settings.objective, episodes)
                               + pacing_rewards(game, settings, episodes) * game.reward_scale) * scale,
                      opponent_rewards=episodes.participant_rewards * scale,
                      action_masks=episodes.adversary_masks, dones=ends)


def make_learner(game: Game, surrogate: SurrogateNet, settings: AdversarySettings, device) -> Learner:
    adversary = ShapingAdversary(game, {"hidden_size": settings.hidden_size, "min_gap": settings.min_gap},
                                 surrogate=surrogate)
    critic = GRUNet(adversary.n_features, 1, settings.hidden_size)
    if settings.objective == Objective.ADALIGN:
        opponent_critic = GRUNet(adversary.n_features, 1, settings.hidden_size)
        return AdAlignLearner(adversary, critic, opponent_critic, settings).to(device)
    return Learner(adversary, critic, settings).to(device)


def train_adversary(game: Game, surrogate: SurrogateNet, settings: AdversarySettings, *,
                    device: torch.device | str = "cpu", progress: bool = True,
                    population: ParticipantModel | None = None,
                    ) -> tuple[ShapingAdversary, list[dict[str, float]]]:
    """Train a shaping adversary against the surrogate, or against `population` (e.g. the surrogate
    together with learner-zoo families, learners/population.py); the adversary reads the
    surrogate's summary of the person either way. Return it and the learning curve."""
    if settings.objective not in game.spec.objectives:
        raise ValueError(f"{game.spec.label} has no {settings.objective} objective; it has "
                         f"{', '.join(game.spec.objectives)}")
    torch.manual_seed(settings.seed)
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    participant = population if population is not None else SurrogateParticipant(game, surrogate.to(device))
    learner = make_learner(game, surrogate, settings, device)
    optimizers = [learner.policy_optimizer, learner.critic_optimizer,
                  *([learner.opponent_critic_optimizer] if isinstance(learner, AdAlignLearner) else [])]
    schedules = [torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 1 - i / settings.iterations)
                 for optimizer in optimizers] if settings.anneal_lr else []
    curve = []
    for iteration in tqdm(range(settings.iterations), desc=f"{game.spec.name} {settings.objective}",
                          disable=not progress):
        episodes = play_episodes(game, participant, learner.policy, settings.batch_size,
                                 generator=generator, device=device)
        trajectory = trajectory_of(game, settings, episodes)
        if isinstance(learner, AdAlignLearner):
            losses = adalign_update(learner, trajectory, generator)
        else:
            losses = ppo_update(learner, trajectory, generator)
        for schedule in schedules:
            schedule.step()
        curve.append({"iteration": iteration, **summarize(game, episodes),
                      "objective_return": float(objective_rewards(settings.objective, episodes)
                                                .sum(dim=1).mean()), **losses})
    return learner.policy, curve


def run_training(*, game: Game, surrogate: SurrogateNet, surrogate_spec: dict[str, Any],
                 surrogate_path: str, settings: AdversarySettings | FittedQSettings, out: str | Path,
                 device: torch.device, log: Callable[[str], None] = print,
                 population: TrainingPopulation | None = None) -> dict[str, Any]:
    """Train (PPO with AdversarySettings, fitted Q iteration with FittedQSettings) against the
    surrogate, or against `population` (the surrogate and learner-zoo families); evaluate
    against the surrogate next to the game's random baseline, and against every zoo family where
    the game has a zoo; write the checkpoint `out` with config.json, metrics.json and
    learning_curve.png in `out`'s stem folder."""
    out = Path(out)
    run = RunDir(out.with_suffix(""), device)
    run.write_config({"game": game.spec.name, "game_params": game.params.to_mapping(),
                      "method": method_of(settings), "settings": dataclasses.asdict(settings),
                      "surrogate": surrogate_path, "surrogate_provenance": surrogate_spec.get("provenance", {}),
                      "surrogate_metrics": surrogate_spec.get("metrics", {}),
                      "population": population.to_dict() if population else None})
    started = time.perf_counter()
    trained_against = (population.build(game, SurrogateParticipant(game, surrogate.to(device)), device)
                       if population else None)
    if isinstance(settings, FittedQSettings):
        adversary, curve = fit_q_adversary(game, surrogate, settings, device=device, population=trained_against)
    else:
        adversary, curve = train_adversary(game, surrogate, settings, device=device, population=trained_against)
    seconds = time.perf_counter() - started
    participant = SurrogateParticipant(game, surrogate)
    baseline_name, baseline_params = game.baseline_adversary
    evaluation = {
        "trained": evaluate(game, adversary, participant, settings.eval_episodes,
                            seed=settings.seed + 1, device=device),
        baseline_name: evaluate(game, make_policy(baseline_name, game, baseline_params), participant,
                                settings.eval_episodes, seed=settings.seed + 1, device=device),
    }
    against_zoo = ([row.to_dict() for row in evaluate_against_zoo(game, adversary, episodes=settings.eval_episodes,
                                                                  seed=settings.seed + 1)]
                   if has_zoo(game.spec.name) else None)
    metrics = {"objective": settings.objective, "method": method_of(settings),
               "training_seconds": round(seconds, 1),
               "against_surrogate": evaluation, "against_zoo": against_zoo, "learning_curve": curve}
    run.write_metrics(metrics)
    plot_learning_curve(game, curve, evaluation[baseline_name], baseline_name, settings.objective,
                        run.path("learning_curve.png"), method_of(settings))
    provenance = {"objective": settings.objective, "method": method_of(settings), "surrogate": surrogate_path,
                  "surrogate_provenance": surrogate_spec.get("provenance", {}),
                  "surrogate_metrics": surrogate_spec.get("metrics", {}), "seed": settings.seed,
                  "population": population.to_dict() if population else None}
    save_policy(out, adversary,
                settings=dataclasses.asdict(settings), provenance=provenance,
                metrics={"against_surrogate": evaluation, "against_zoo": against_zoo,
                         "training_seconds": round(seconds, 1)})
    log(f"trained in {seconds:.0f} s; against the surrogate: {evaluation}")
    return {"out": str(out), "objective": settings.objective, "method": method_of(settings),
            **evaluation["trained"], "against_zoo": against_zoo,
            "baseline": {baseline_name: evaluation[baseline_name]}, "training_seconds": round(seconds, 1)}


def method_of(settings: AdversarySettings | FittedQSettings) -> str:
    return "fitted-q" if isinstance(settings, FittedQSettings) else "ppo"


# The training methods and the command-line options that belong to each (train-adversary and
# experiments/offline_loop.py, which name them alike).
# Each method's settings, and the fields `train-adversary` has a flag for: all but those it sets
# itself (--objective, --seed), eval_episodes, and the fields both methods take (one flag each,
# SHARED_OPTIONS).
METHOD_SETTINGS = {"ppo": AdversarySettings, "fitted-q": FittedQSettings}
SHARED_OPTIONS = ("min_gap",)
METHOD_OPTIONS = {method: tuple(field.name for field in dataclasses.fields(settings_class)
                                if field.name not in ("objective", "seed", "eval_episodes", *SHARED_OPTIONS))
                  for method, settings_class in METHOD_SETTINGS.items()}
# The PPO fields that only the adalign objective reads.
ADALIGN_OPTIONS = ("beta", "proximal", "normalize_past", "alignment_lambda")


def add_method_options(parser) -> None:
    """A flag for each field of both methods' settings (`--policy-lr`, `--passes`, ...), with the
    field's docstring as its help; a flag not given keeps the settings' default."""
    for method, settings_class in METHOD_SETTINGS.items():
        add_settings_options(parser, settings_class, METHOD_OPTIONS[method], applies_to=f"--method {method}")
    add_settings_options(parser, FittedQSettings, SHARED_OPTIONS, applies_to="either method")


def misplaced_option(method: str, options: dict[str, Any]) -> str | None:
    """The message for an option given (not None) that belongs to the other method, if any."""
    for other, names in METHOD_OPTIONS.items():
        for name in names:
            if other != method and options.get(name) is not None:
                return f"--{name.replace('_', '-')} applies to --method {other}, not {method}"
    return None


def with_game_defaults(game: Game, objective: str, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`train-adversary`'s options with the game's measured defaults for `objective`
    (`Game.default_training`) filled in where the command line gave none, and the defaults it
    used. Only when no `method` was given: a method named on the command line trains with that
    method's own defaults. A surrogate share only applies to a population of the zoo."""
    if options.get("method") is not None:
        return options, {}
    used = {name: value for name, value in game.default_training.get(objective, {}).items()
            if options.get(name) is None}
    resolved = {**options, **used}
    if resolved.get("population") != "zoo" and "surrogate_share" in used:
        del used["surrogate_share"]
        resolved["surrogate_share"] = None
    return resolved, used


def method_settings(method: str, objective: str, seed: int,
                    options: dict[str, Any]) -> AdversarySettings | FittedQSettings:
    """The settings of `method` with the options given (not None) of those it takes, and
    eval_episodes; the rest keep their defaults. Raises ValueError for a bad value."""
    overrides = {name: options[name] for name in (*METHOD_OPTIONS[method], *SHARED_OPTIONS, "eval_episodes")
                 if options.get(name) is not None}
    return METHOD_SETTINGS[method](objective=objective, seed=seed, **overrides)


def headline(game: Game, row: dict[str, float]) -> tuple[str, float]:
    """The one number a game's learning curve shows."""
    for key in ("target_rate", "error_rate"):
        if key in row:
            return key.replace("_", " "), row[key]
    return "adversary return", row["adversary_return"]


def plot_learning_curve(game: Game, curve: list[dict[str, float]], baseline: dict[str, float],
                        baseline_name: str, objective: str, path: Path, method: str = "ppo") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label, _ = headline(game, curve[0])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].axhline(headline(game, baseline)[1], color="grey", ls="--", label=baseline_name)
    # PPO: every training batch; fitted Q: the greedy policy after each pass, of each plan.
    xlabel = "PPO iteration" if method == "ppo" else "fitted-Q pass"
    marker = None if method == "ppo" else "o"
    plans = sorted({row.get("plan", 0) for row in curve})
    for plan in plans:
        rows = [row for row in curve if row.get("plan", 0) == plan]
        of_plan = f", plan {plan}" if len(plans) > 1 else ""
        x = [row["iteration"] for row in rows]
        axes[0].plot(x, [headline(game, row)[1] for row in rows], marker=marker,
                     label=f"trained ({objective}){of_plan}")
        if "predicted_adversary_return" in rows[0]:  # fitted Q: what Q_0 expects, beside what it got
            per = game.max_trials if label.endswith("rate") else 1
            axes[0].plot(x, [row["predicted_adversary_return"] / per for row in rows], ls=":", marker=marker,
                         label=f"predicted by Q at trial 0{of_plan}")
        axes[1].plot(x, [row["adversary_return"] for row in rows], marker=marker, label=f"adversary{of_plan}")
        axes[1].plot(x, [row["participant_return"] for row in rows], marker=marker,
                     label=f"surrogate participant{of_plan}")
    axes[0].set(xlabel=xlabel, ylabel=label, title=f"{game.spec.label}: {label}")
    axes[0].legend()
    axes[1].set(xlabel=xlabel, ylabel="points per episode",
                title="Earnings (training batches)" if method == "ppo" else "Earnings (greedy policy)")
    axes[1].legend()
    if method != "ppo":
        for ax in axes:
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
