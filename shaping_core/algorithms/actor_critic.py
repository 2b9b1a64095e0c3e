"""Naive learner: advantage actor-critic with GAE, the opponent treated as part of the world.

Each iteration the learner plays a batch of episodes (rollout.py), then

1. fits its critic V(s) by regression on GAE(lambda) returns (`critic_steps` Adam steps),
2. recomputes the GAE advantages A_t with the fitted critic, and
3. takes one policy-gradient step on

       L = - mean_{b,t} [ A_t * log pi(a_t | s_t) ] - entropy_coef * mean_{b,t} H(pi(. | s_t))

   (fitting the critic before computing advantages matters early in training, when the
   critic is far from the values of the current policy and its advantages would be biased).

The policy and critic are sequence models: called on a batch of recorded features [B, T, F] they
return outputs [B, T, K] (a one-step-memory table or a GRU, see shaping_core/policies). The
learner's `policy` is the same network wrapped in the common policy interface, so what is trained
is exactly what is served.

Advantage Alignment (adalign.py) and PPO (ppo.py) reuse the pieces here; with beta = 0 Advantage
Alignment is this learner.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..policies.base import Policy
from .gae import gae
from .rollout import Trajectory


@dataclass
class ActorCriticSettings:
    """The naive learner's settings (ipd_training.py). The updates here read only these fields, so
    any settings with them will do: AdAlignSettings, and adversary_training.AdversarySettings,
    which are flat lists of their own rather than subclasses."""

    gamma: float = 0.96
    """Discount of the repeated game."""
    gae_lambda: float = 0.95
    """GAE's lambda: 0 gives one-step TD errors, 1 Monte Carlo returns."""
    policy_lr: float = 0.05
    """Adam step size of the policy."""
    critic_lr: float = 0.1
    """Adam step size of the critic."""
    critic_steps: int = 10
    """Critic regression steps per set of targets."""
    critic_refits: int = 2
    """Times per batch the GAE targets are recomputed and the critic fitted to them."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus."""
    normalize_advantages: bool = False
    """Divide the advantages by their batch standard deviation before the step."""


class Learner:
    """A policy network, its critic, and their optimisers.

    `policy` is the served Policy object; `policy.net` is the network being trained."""

    def __init__(self, policy: Policy, critic: nn.Module, settings: ActorCriticSettings):
        self.policy, self.critic, self.settings = policy, critic, settings
        self.policy_optimizer = torch.optim.Adam(policy.net.parameters(), lr=settings.policy_lr)
        self.critic_optimizer = torch.optim.Adam(critic.parameters(), lr=settings.critic_lr)

    def to(self, device) -> Learner:
        self.policy.net.to(device)
        self.critic.to(device)
        return self


def values_of(critic: nn.Module, features: Tensor) -> Tensor:
    """Critic values [B, T + 1] for recorded features [B, T + 1, F]."""
    return critic(features)[0].squeeze(-1)


def advantages_and_returns(critic: nn.Module, rewards: Tensor, features: Tensor,
                           settings: ActorCriticSettings, dones: Tensor | None = None,
                           ) -> tuple[Tensor, Tensor]:
    with torch.no_grad():
        return gae(rewards, values_of(critic, features), settings.gamma, settings.gae_lambda, dones)


def fit_critic(critic: nn.Module, optimizer: torch.optim.Optimizer, features: Tensor,
               returns: Tensor, steps: int) -> float:
    """Regress V(s_t) on the returns for `steps` Adam steps; return the last loss."""
    loss = torch.zeros(())
    for _ in range(steps):
        loss = (values_of(critic, features)[:, :-1] - returns).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(loss.detach())


def fit_critic_on(critic: nn.Module, optimizer: torch.optim.Optimizer, rewards: Tensor,
                  features: Tensor, settings: ActorCriticSettings, dones: Tensor | None = None,
                  ) -> float:
    """Fit a critic to the GAE returns of `rewards`, re-estimating the returns `critic_refits`
    times (each time with the critic as fitted so far, so bootstrapped targets catch up)."""
    loss = 0.0
    for _ in range(settings.critic_refits):
        _, returns = advantages_and_returns(critic, rewards, features, settings, dones)
        loss = fit_critic(critic, optimizer, features, returns, settings.critic_steps)
    return loss


def log_probs_and_entropy(net: nn.Module, trajectory: Trajectory) -> tuple[Tensor, Tensor]:
    """Log-probabilities [B, T] of the recorded actions under the current network, and entropies.
    Actions the rules did not allow (`action_masks`) get probability zero, as when acting."""
    logits = net(trajectory.features[:, :-1])[0]
    if trajectory.action_masks is not None:
        # A large finite logit, not -inf: its probability is exactly 0 all the same, and the
        # entropy's p * log p stays 0 with a finite gradient instead of 0 * inf = nan.
        logits = logits.masked_fill(~trajectory.action_masks, -1e9)
    log_pi = torch.log_softmax(logits, dim=-1)
    taken = log_pi.gather(-1, trajectory.actions.unsqueeze(-1)).squeeze(-1)
    entropy = -(log_pi.exp() * log_pi).sum(-1)
    return taken, entropy


def policy_gradient_step(learner: Learner, trajectory: Trajectory, advantages: Tensor) -> float:
    s = learner.settings
    if s.normalize_advantages:
        advantages = advantages / (advantages.std() + 1e-8)
    log_pi, entropy = log_probs_and_entropy(learner.policy.net, trajectory)
    loss = -(advantages.detach() * log_pi).mean() - s.entropy_coef * entropy.mean()
    learner.policy_optimizer.zero_grad()
    loss.backward()
    learner.policy_optimizer.step()
    return float(loss.detach())


def actor_critic_update(learner: Learner, trajectory: Trajectory) -> dict[str, float]:
    """One naive actor-critic update from the learner's own trajectory."""
    s = learner.settings
    critic_loss = fit_critic_on(learner.critic, learner.critic_optimizer, trajectory.rewards,
                                trajectory.features, s, trajectory.dones)
    advantages, _ = advantages_and_returns(learner.critic, trajectory.rewards, trajectory.features, s,
                                           trajectory.dones)
    policy_loss = policy_gradient_step(learner, trajectory, advantages)
    return {"critic_loss": critic_loss, "policy_loss": policy_loss}
