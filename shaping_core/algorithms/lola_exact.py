"""Exact LOLA (Foerster et al., 2018) on the infinitely iterated prisoner's dilemma.

A reference learner with exact gradients, for one-step-memory policies: agent i has five
parameters theta_i, with P(C | s) = sigmoid(theta_i[s]) for s in (start, CC, CD, DC, DD) where the
state letters are (own previous move, opponent's previous move) as in policies/tabular.py.

Closed-form values. From agent 1's view the game is a Markov chain over the four joint moves
(CC, CD, DC, DD). Agent 2 sees the same round with the letters swapped, so its probabilities are
read at (start, CC, DC, CD, DD). With q1 = agent 1's P(C) in each state and q2 = agent 2's:

    p0      = [q1s q2s, q1s (1-q2s), (1-q1s) q2s, (1-q1s)(1-q2s)]           (first round)
    P[s, :] = [q1 q2, q1 (1-q2), (1-q1) q2, (1-q1)(1-q2)]  at state s     (next round)
    V_i     = p0^T (I - gamma P)^-1 r_i,   r_1 = (R, S, T, P), r_2 = (R, T, S, P)

V_i is the discounted sum of rewards from the first round on; (1 - gamma) V_i is the per-round
average (tit-for-tat against itself: -1 with the paper's payoffs R, S, T, P = -1, -3, 0, -2).

LOLA step. Each agent assumes the other takes one naive gradient step of size `lookahead_lr`
(eta) and differentiates its own value *through* that step:

    theta_2' = theta_2 + eta * d V_2 / d theta_2          (kept in the autograd graph)
    theta_1 <- theta_1 + lr * d V_1(theta_1, theta_2') / d theta_1

and symmetrically for agent 2; both update simultaneously. eta = 0 gives naive exact gradient
ascent. Gradients are taken of the discounted value V itself (the convention of the LOLA paper).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

# Agent 2's state index for each of agent 1's states: CD and DC swap.
SWAP_VIEW = [0, 1, 3, 2, 4]


@dataclass
class ExactLOLASettings:
    gamma: float = 0.96  # discount of the infinitely repeated game
    reward: float = -1.0  # R: both cooperate
    sucker: float = -3.0  # S: I cooperate, the other defects
    temptation: float = 0.0  # T: I defect, the other cooperates
    punishment: float = -2.0  # P: both defect
    lr: float = 1.0  # gradient-ascent step on the logits (units of the discounted value V)
    lookahead_lr: float = 1.0  # eta, the opponent's assumed naive step (0 = naive learner)
    iterations: int = 200  # simultaneous updates
    init_std: float = 1.0  # logits start at N(0, init_std^2)


def ipd_values(p1: Tensor, p2: Tensor, s: ExactLOLASettings) -> tuple[Tensor, Tensor]:
    """Discounted values (V_1, V_2) of two one-step-memory policies (P(C) per state, [5] each)."""
    q2 = p2[SWAP_VIEW]
    joint = lambda a, b: torch.stack([a * b, a * (1 - b), (1 - a) * b, (1 - a) * (1 - b)], dim=-1)
    start = joint(p1[0], q2[0])  # [4]
    transition = joint(p1[1:], q2[1:])  # [4, 4], rows: this round's joint move
    r1 = torch.tensor([s.reward, s.sucker, s.temptation, s.punishment], dtype=p1.dtype, device=p1.device)
    r2 = torch.tensor([s.reward, s.temptation, s.sucker, s.punishment], dtype=p1.dtype, device=p1.device)
    system = torch.eye(4, dtype=p1.dtype, device=p1.device) - s.gamma * transition
    discounted = torch.linalg.solve(system, torch.stack([r1, r2], dim=1))  # (I - gamma P)^-1 r
    values = start @ discounted
    return values[0], values[1]


def per_round(value: Tensor, s: ExactLOLASettings) -> Tensor:
    return (1 - s.gamma) * value


def lola_gradients(theta1: Tensor, theta2: Tensor, s: ExactLOLASettings) -> tuple[Tensor, Tensor]:
    """Both agents' LOLA gradients at (theta1, theta2)."""
    theta1 = theta1.detach().requires_grad_(True)
    theta2 = theta2.detach().requires_grad_(True)
    v1, v2 = ipd_values(torch.sigmoid(theta1), torch.sigmoid(theta2), s)
    # each agent's naive step, kept differentiable
    step1 = torch.autograd.grad(v1, theta1, create_graph=True)[0]
    step2 = torch.autograd.grad(v2, theta2, create_graph=True)[0]
    v1_look, _ = ipd_values(torch.sigmoid(theta1), torch.sigmoid(theta2 + s.lookahead_lr * step2), s)
    _, v2_look = ipd_values(torch.sigmoid(theta1 + s.lookahead_lr * step1), torch.sigmoid(theta2), s)
    g1 = torch.autograd.grad(v1_look, theta1, retain_graph=True)[0]
    g2 = torch.autograd.grad(v2_look, theta2)[0]
    return g1, g2


def train_exact_lola(s: ExactLOLASettings, generator: torch.Generator | None = None,
                     device: torch.device | str = "cpu") -> tuple[Tensor, Tensor, list[dict]]:
    """Run `s.iterations` simultaneous LOLA steps from random logits; return both agents' final
    logits and a history of per-round values."""
    theta1 = torch.randn(5, generator=generator, dtype=torch.float64) * s.init_std
    theta2 = torch.randn(5, generator=generator, dtype=torch.float64) * s.init_std
    theta1, theta2 = theta1.to(device), theta2.to(device)
    history = []
    for iteration in range(s.iterations):
        g1, g2 = lola_gradients(theta1, theta2, s)
        theta1, theta2 = theta1 + s.lr * g1, theta2 + s.lr * g2
        if iteration % 10 == 0 or iteration == s.iterations - 1:
            with torch.no_grad():
                v1, v2 = ipd_values(torch.sigmoid(theta1), torch.sigmoid(theta2), s)
            history.append({"iteration": iteration, "value_1": float(per_round(v1, s)),
                            "value_2": float(per_round(v2, s))})
    return theta1.detach(), theta2.detach(), history
