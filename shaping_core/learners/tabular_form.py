"""A bandit learner's tabular form (algorithms/bandit_dp.py's `TabularLearner`), built from the
learner's own rules (learners/bandit_learner.py).

A learner lays its memory out on axes: each memory entry ([B]) or each column of one ([B, 2]) gets
an `Axis` of node values. The states are every combination of nodes. In each, the learner's own
`choose` gives the probabilities, and its own `learn` gives the memory after each (choice, reward),
which is placed back on the nodes: exactly on a discrete axis (the value must be a node), and on a
continuous axis by linear interpolation between the two neighbouring nodes (multilinear over
several axes, so a next state is a mixture of up to 2^(continuous axes) nodes, fewer in practice:
only the axes that moved spread). States the initial one cannot reach are dropped.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from ..algorithms.bandit_dp import TabularLearner
from ..algorithms.markov_chain import on_grid
from ..params import ParamsError
from ..participants import ParticipantModel, ParticipantParamsError
from .bandit_learner import BanditLearner, Memory

DTYPE = torch.float64


@dataclass(frozen=True)
class Axis:
    """The node values of one memory coordinate, increasing."""

    nodes: Tensor
    continuous: bool
    """Interpolate between nodes (a value on a grid) or require a node exactly (a count, an action)."""


def grid_axis(low: float, high: float, size: int) -> Axis:
    """`size` evenly spaced nodes from low to high, interpolated between."""
    if size < 2:
        raise ParticipantParamsError(f"a grid needs at least 2 nodes, got {size}")
    return Axis(torch.linspace(low, high, size, dtype=DTYPE), continuous=True)


def exact_axis(values, dtype: torch.dtype = torch.long) -> Axis:
    """A discrete coordinate taking exactly these values."""
    return Axis(torch.tensor(sorted(values), dtype=dtype), continuous=False)


Axes = Mapping[str, Axis | tuple[Axis, ...]]
"""Memory entry name -> its axis ([B] entries) or one axis per column ([B, 2] entries)."""


def participant_values(learner: ParticipantModel, values: Mapping[str, float]) -> dict[str, float]:
    """One participant's value of every `Range` field of the learner, checked against its bounds
    (a ParticipantParamsError names a missing or bad one): what a tabular form is built for."""
    fields = learner.params_class.range_fields()
    missing = [name for name in fields if name not in values]
    if missing:
        raise ParticipantParamsError(f"{learner.label}: the tabular form needs a value for "
                                     f"{', '.join(missing)}")
    chosen = {name: float(values[name]) for name in fields}
    try:
        learner.params_class.from_mapping({**learner.params.to_mapping(), **chosen})
    except ParamsError as error:
        raise ParticipantParamsError(f"{learner.label}: {error}") from None
    return chosen


def tabulate(learner: BanditLearner, values: Mapping[str, float], axes: Axes) -> TabularLearner:
    """The tabular form of one participant of `learner` with parameter `values` (a number for
    every `Range` field; checked against the learner's bounds)."""
    values = participant_values(learner, values)
    fields = learner.params_class.range_fields()

    coordinates = [(name, column, axis) for name, spec in axes.items()
                   for column, axis in (enumerate(spec) if isinstance(spec, tuple) else [(None, spec)])]
    sizes = [len(axis.nodes) for _, _, axis in coordinates]
    strides = [math.prod(sizes[j + 1:]) for j in range(len(sizes))]

    def params(n: int) -> dict[str, Tensor]:
        return {name: torch.full((n,), float(values[name]), dtype=DTYPE) for name in fields}

    def memory_at(node_indices: Tensor) -> Memory:
        """The memory of states given by their node index on every axis ([S, n_axes])."""
        parts: dict[str, list[Tensor]] = {}
        for j, (name, _, axis) in enumerate(coordinates):
            parts.setdefault(name, []).append(axis.nodes[node_indices[:, j]])
        return {name: torch.stack(columns, dim=1) if isinstance(axes[name], tuple) else columns[0]
                for name, columns in parts.items()}

    def locate(memory: Memory) -> tuple[Tensor, Tensor]:
        """([N, K] state index, [N, K] weight) of each memory on the nodes."""
        corners = [(0, 1.0)]
        for (name, column, axis), stride in zip(coordinates, strides):
            x = memory[name] if column is None else memory[name][:, column]
            nodes = axis.nodes
            if axis.continuous:
                node, share = on_grid(x.to(DTYPE), nodes)
                corners = [(index + node[:, step] * stride, weight * share[:, step])
                           for index, weight in corners for step in (0, 1)]
            else:
                x = x.to(nodes.dtype).contiguous()
                node = torch.searchsorted(nodes, x).clamp(max=len(nodes) - 1)
                if not torch.equal(nodes[node], x):
                    raise ValueError(f"{learner.label}: {name} left its exact axis")
                corners = [(index + node * stride, weight) for index, weight in corners]
        n = len(next(iter(memory.values())))
        index = torch.stack([torch.as_tensor(i).expand(n) for i, _ in corners], dim=-1)
        weight = torch.stack([torch.as_tensor(w, dtype=DTYPE).expand(n) for _, w in corners], dim=-1)
        return index, weight

    all_nodes = torch.cartesian_prod(*[torch.arange(size) for size in sizes]).view(-1, len(sizes))
    memory = memory_at(all_nodes)
    n_states = all_nodes.shape[0]
    probs = learner.choose(memory, params(n_states)).to(DTYPE)
    next_index = torch.empty(n_states, 2, 2, 2 ** sum(axis.continuous for *_, axis in coordinates),
                             dtype=torch.long)
    next_weight = torch.empty(next_index.shape, dtype=DTYPE)
    for action, reward in itertools.product((0, 1), (0, 1)):
        after = learner.learn(memory, torch.full((n_states,), action),
                              torch.full((n_states,), float(reward), dtype=DTYPE), params(n_states))
        next_index[:, action, reward], next_weight[:, action, reward] = locate(after)
    initial_index, initial_weight = _fewest_corners(*locate(learner.initial_memory(params(1))))
    return TabularLearner(*_reachable(probs, *_fewest_corners(next_index, next_weight),
                                      initial_index[0], initial_weight[0]))


def _fewest_corners(index: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """Keep only as many candidates per (state, choice, reward) as the most that carry weight
    (heaviest first); an unused slot repeats the heaviest candidate with weight 0."""
    k = max(int((weight > 0).sum(dim=-1).max()), 1)
    weight, order = weight.topk(k, dim=-1)
    index = index.gather(-1, order)
    return torch.where(weight > 0, index, index[..., :1]), weight


def _reachable(probs: Tensor, next_index: Tensor, next_weight: Tensor, initial_index: Tensor,
               initial_weight: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Drop the states the initial state cannot reach and renumber the rest."""
    keep = torch.zeros(len(probs), dtype=torch.bool)
    keep[initial_index[initial_weight > 0]] = True
    frontier = keep.clone()
    while frontier.any():
        targets = next_index[frontier][next_weight[frontier] > 0]
        frontier = torch.zeros_like(keep)
        frontier[targets] = True
        frontier &= ~keep
        keep |= frontier
    renumbered = torch.cumsum(keep, dim=0) - 1
    return (probs[keep], renumbered[next_index[keep]], next_weight[keep],
            renumbered[initial_index], initial_weight)
