"""What the two dynamic programmes share (bandit_dp.py, gonogo_dp.py): one participant's learner
as a Markov chain over finitely many states, its next state a mixture of up to K states chosen by
two binary things it saw on the trial (the bandit: its own choice and the reward; go/no-go: the
stimulus and its own action).

`MarkovChain` is a mixin for a frozen dataclass that has the fields

    next_index      [S, 2, 2, K] long: candidate next states after (first, second)
    next_weight     [S, 2, 2, K] float64: their weights (each row sums to 1)
    initial_index   [K0] long: the state(s) before the first trial
    initial_weight  [K0] float64: their weights

and an `n_states` property; it adds the expectations the backups need and the belief an oracle
tracks. `check_mixture` validates those fields with errors that name the bad one.
"""

from __future__ import annotations

from functools import cached_property

import torch
from torch import Tensor

TOLERANCE = 1e-6  # on sums of probabilities and weights that must be 1


class TabularError(ValueError):
    """A learner's tabular form is not a valid Markov chain."""


class MarkovChain:
    @cached_property
    def _transitions(self) -> Tensor:
        """Sparse [S * 4, S]: row (s, first, second) holds the weights of the next states. A
        product with it costs S * 4 * K per column, where gathering K copies of a table would
        cost memory."""
        rows = torch.arange(self.n_states * 4).repeat_interleave(self.next_index.shape[-1])
        return torch.sparse_coo_tensor(torch.stack([rows, self.next_index.flatten()]),
                                       self.next_weight.flatten(), (self.n_states * 4, self.n_states),
                                       check_invariants=True).coalesce()

    def expected_next(self, table: Tensor) -> Tensor:
        """table [S, ...] -> [S, 2, 2, ...]: its expectation over the next state after each
        (first, second)."""
        rows = self._transitions @ table.reshape(self.n_states, -1)
        return rows.view(self.n_states, 2, 2, *table.shape[1:])

    def initial_belief(self, batch_size: int) -> Tensor:
        """[B, S] float64: the distribution over states before the first trial."""
        belief = torch.zeros(self.n_states, dtype=torch.float64)
        belief.index_add_(0, self.initial_index, self.initial_weight)
        return belief.expand(batch_size, -1).clone()

    def advance(self, belief: Tensor, first: Tensor, second: Tensor) -> Tensor:
        """[B, S] the distribution over states after each episode's learner saw (first [B],
        second [B]). Not conditioned on the participant's choice: the learners' states are
        functions of their history, and a mixture of grid nodes only interpolates one state.
        Only the nonzero entries move (a handful per episode on a grid, one for an exact state)."""
        episode, state = belief.nonzero(as_tuple=True)
        index = self.next_index[state, first[episode], second[episode]]  # [nonzero, K]
        weight = self.next_weight[state, first[episode], second[episode]] * belief[episode, state, None]
        flat = (episode[:, None] * self.n_states + index).flatten()
        return torch.zeros_like(belief).view(-1).index_add_(0, flat, weight.flatten()).view_as(belief)


def on_grid(x: Tensor, nodes: Tensor) -> tuple[Tensor, Tensor]:
    """([N, 2] node index, [N, 2] weight): `x` [N] placed on increasing, evenly spaced `nodes`
    by linear interpolation (clamped to their range): how a continuous state becomes a mixture of
    a chain's states."""
    position = ((x - nodes[0]) / (nodes[-1] - nodes[0]) * (len(nodes) - 1)).clamp(0, len(nodes) - 1)
    # A value left on its node (an option not chosen) must stay there, not spread a rounding
    # error's weight onto the next node.
    position = torch.where((position - position.round()).abs() < 1e-9, position.round(), position)
    below = position.floor().long().clamp(max=len(nodes) - 2)
    up = position - below
    return torch.stack([below, below + 1], dim=1), torch.stack([1 - up, up], dim=1)


def check_distribution(name: str, table: Tensor, shape: tuple[int, ...], dim: int) -> None:
    if table.dtype != torch.float64 or tuple(table.shape) != shape:
        raise TabularError(f"{name} must be float64 of shape {list(shape)}, got "
                           f"{table.dtype} {list(table.shape)}")
    if not bool(table.isfinite().all()) or bool((table < 0).any()):
        raise TabularError(f"{name} must be finite and non-negative")
    sums = table.sum(dim=dim)
    worst = int((sums - 1).abs().flatten().argmax())
    if abs(float(sums.flatten()[worst]) - 1) > TOLERANCE:
        where = [int(i) for i in torch.unravel_index(torch.tensor(worst), sums.shape)]
        raise TabularError(f"{name} must sum to 1 over its last axis; at {where} it sums to "
                           f"{float(sums.flatten()[worst]):.6g}")


def check_mixture(name: str, index: Tensor, weight: Tensor, n_states: int,
                  shape: tuple[int, ...]) -> None:
    if index.dtype != torch.long or tuple(index.shape) != shape:
        raise TabularError(f"{name}_index must be long of shape {list(shape)}, got "
                           f"{index.dtype} {list(index.shape)}")
    if bool(((index < 0) | (index >= n_states)).any()):
        raise TabularError(f"{name}_index must name states 0..{n_states - 1}")
    check_distribution(f"{name}_weight", weight, shape, dim=-1)


def check_chain(chain, n_states: int) -> None:
    """The next and initial mixtures of a chain of `n_states` states."""
    check_mixture("next", chain.next_index, chain.next_weight, n_states,
                  (n_states, 2, 2, chain.next_index.shape[-1]))
    check_mixture("initial", chain.initial_index, chain.initial_weight, n_states,
                  (chain.initial_index.shape[-1],))
