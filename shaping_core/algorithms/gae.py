"""Generalised advantage estimation (Schulman et al., 2016), shared by every learner.

For one agent's batch of episodes with rewards r_t and critic values V_t = V(s_t), t = 0..T-1, and
the value V_T of the state after the last recorded trial:

    delta_t = r_t + gamma * V_{t+1} * (1 - done_t) - V_t
    A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1},      A_T = 0
    G_t     = A_t + V_t                                     (the critic's regression target)

`done_t` marks a real end of the episode after trial t. An episode cut off by the rollout horizon is
not done: its tail is bootstrapped with V_T, which treats a fixed-length batch as a window into the
infinitely repeated game (the setting of the IPD experiments).
"""

from __future__ import annotations

import torch
from torch import Tensor


def gae(rewards: Tensor, values: Tensor, gamma: float, lam: float,
        dones: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Advantages and returns [B, T] from rewards [B, T] and values [B, T + 1]."""
    batch, horizon = rewards.shape
    if values.shape != (batch, horizon + 1):
        raise ValueError(f"values must have shape {(batch, horizon + 1)}, got {tuple(values.shape)}")
    not_done = torch.ones_like(rewards) if dones is None else 1.0 - dones.float()
    advantages = torch.zeros_like(rewards)
    running = torch.zeros(batch, dtype=rewards.dtype, device=rewards.device)
    for t in reversed(range(horizon)):
        delta = rewards[:, t] + gamma * values[:, t + 1] * not_done[:, t] - values[:, t]
        running = delta + gamma * lam * not_done[:, t] * running
        advantages[:, t] = running
    return advantages, advantages + values[:, :-1]
