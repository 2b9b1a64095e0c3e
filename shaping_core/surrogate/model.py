"""The human surrogate: a GRU over a participant's history that predicts their next choice.

One model family for all four games (Dezfouli, Nock & Dayan 2020). At trial t the GRU reads what
the participant learnt from trial t-1 (`ParticipantView`):

    x_t = [one_hot(own previous action), own previous reward / game.reward_scale,
           one_hot(the adversary's previous move)      (only if the participant sees it),
           the participant context of trial t           (only if `reads_context`)]
    h_t = GRU(x_t, h_{t-1})
    logits_t = head_c(h_t)       c = this trial's cue (go/no-go's stimulus), one head per cue

The participant context (`Game.participant_context`: the IPD's payoffs as shares of T - S and its
horizon) is what lets one surrogate fitted on many studies' versions of a game predict people in a
version none of them played, the platform's own included. A surrogate fitted on one version has
nothing to learn from it and leaves it out.

The cue selects the output head instead of entering the GRU, so the surrogate's prediction for
*every* possible cue comes from one GRU step. A shaping adversary uses exactly that (`summary`):
before placing a stimulus it sees how the participant would respond to each.

`SurrogateParticipant` puts the network behind the participant-model interface, so it plays in
simulations exactly like a synthetic learner.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..games import Game, Sight
from ..participants import ParticipantModel, ParticipantView, map_batched


def _one_hot_or_none(action: Tensor, n: int) -> Tensor:
    """One-hot over n actions plus a last column meaning 'none' (action -1)."""
    return nn.functional.one_hot(torch.where(action < 0, n, action), n + 1).float()


def gru_step(gru: nn.GRU, x: Tensor, hidden: Tensor) -> Tensor:
    """One time step of a one-layer `gru` for a batch: x [B, I], hidden [1, B, H] -> [1, B, H].

    The GRU cell on its own: on the CPU the same kernel, bit for bit, that `gru` runs for a
    sequence of length one, without nn.GRU's sequence handling around it (stacking outputs and
    hidden states, transposes), which costs about a tenth of a rollout step at batch 4096. Rollouts
    take one step per trial, so that overhead is paid every trial (experiments/bench_rollout.py).
    """
    return torch.gru_cell(x, hidden[0], gru.weight_ih_l0, gru.weight_hh_l0,
                          gru.bias_ih_l0, gru.bias_hh_l0).unsqueeze(0)


class SurrogateNet(nn.Module):
    def __init__(self, game: Game, hidden_size: int = 16, reads_context: bool = False):
        super().__init__()
        spec = game.spec
        if reads_context and not spec.participant_context:
            raise ValueError(f"{spec.label} has no participant context to read")
        self.reads_context = reads_context
        self.n_actions = len(spec.participant_actions)
        self.n_adversary_actions = len(spec.adversary_actions)
        self.sight = spec.participant_sees
        self.reward_scale = float(game.reward_scale)
        self.hidden_size = hidden_size
        self.n_cues = self.n_adversary_actions if self.sight is Sight.CUE else 1
        n_inputs = self.n_actions + 2
        if self.sight is not Sight.NOTHING:
            n_inputs += self.n_adversary_actions + 1
        if reads_context:
            n_inputs += len(spec.participant_context)
        self.gru = nn.GRU(n_inputs, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, self.n_cues * self.n_actions)

    def inputs(self, view: ParticipantView) -> Tensor:
        """x_t [..., n_inputs] for views of any leading shape."""
        parts = [_one_hot_or_none(view.last_action, self.n_actions),
                 (view.last_reward.float() / self.reward_scale).unsqueeze(-1)]
        if self.sight is not Sight.NOTHING:
            parts.append(_one_hot_or_none(view.last_seen, self.n_adversary_actions))
        if self.reads_context:
            if view.context is None:
                raise ValueError("this surrogate reads the participant context, but the view has none")
            parts.append(view.context.float())
        return torch.cat(parts, dim=-1)

    def all_logits(self, hidden_out: Tensor) -> Tensor:
        """[..., n_cues, n_actions]: the prediction under every possible cue."""
        return self.head(hidden_out).unflatten(-1, (self.n_cues, self.n_actions))

    def logits_for(self, hidden_out: Tensor, cue: Tensor) -> Tensor:
        """[..., n_actions] under the given cues (ignored, and may be -1, in games without)."""
        logits = self.all_logits(hidden_out)
        if self.n_cues == 1:
            return logits[..., 0, :]
        index = cue.clamp_min(0)[..., None, None].expand(*cue.shape, 1, self.n_actions)
        return logits.gather(-2, index).squeeze(-2)

    def forward(self, views: ParticipantView, hidden: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Whole sequences: views with [N, T] fields -> logits [N, T, n_actions], final hidden."""
        out, hidden = self.gru(self.inputs(views), hidden)
        return self.logits_for(out, views.cue), hidden

    def step(self, view: ParticipantView, hidden: Tensor) -> Tensor:
        """One trial for a batch (view fields [B]): the new hidden state [1, B, H]."""
        return gru_step(self.gru, self.inputs(view), hidden)

    def initial_hidden(self, batch_size: int, device: torch.device | str = "cpu") -> Tensor:
        return torch.zeros(1, batch_size, self.hidden_size, device=device)

    def shape(self) -> dict[str, int | bool]:
        """The arguments that rebuild this network (with the game) for its state dict."""
        return {"hidden_size": self.hidden_size, "reads_context": self.reads_context}

    def summary_size(self) -> int:
        return self.hidden_size + self.n_cues * self.n_actions

    def summary(self, hidden: Tensor) -> Tensor:
        """[B, H + n_cues * n_actions]: the hidden state and the predicted choice probabilities
        under every cue; what a shaping adversary adds to its observation."""
        h = hidden[-1]
        return torch.cat([h, torch.softmax(self.all_logits(h), dim=-1).flatten(1)], dim=1)


@dataclass(frozen=True)
class Orientation:
    """Which episodes of a counterbalanced batch play the surrogate's mirror image, in the form a
    rollout step uses: one table lookup per input and one gather for the choice probabilities."""

    mirrored: Tensor  # [B] bool
    own_index: Tensor  # [B] long: 1 + (the table's half for this episode), added to an action
    seen_index: Tensor  # [B] long: the same for the adversary's actions
    choice_order: Tensor  # [B, n] long: which of the surrogate's probabilities each option takes


class SurrogateParticipant(ParticipantModel):
    """A fitted surrogate playing as a participant (see model docstring).

    In a game whose options are interchangeable labels (the bandit, `Game.mirror`) the platform
    counterbalances the target's side across participants, so a simulated population is too:
    `counterbalance` (the default there) makes every episode, drawn at `reset`, either the
    surrogate or its mirror image, which sees and chooses option k as 1 - k. A surrogate fitted
    on screen sides may prefer one of them; without this, that preference would count for or
    against the adversary depending on the side its target happens to have in the data
    (docs/loop.md). Its state is then (hidden, Orientation).
    """

    name, label = "surrogate", "Human surrogate (GRU)"
    games = ("ipd", "bandit", "gonogo", "trust")

    def __init__(self, game: Game, net: SurrogateNet, counterbalance: bool | None = None):
        super().__init__(game)
        self.net = net
        # Tables indexed by action + 1 (-1 is "none"): the actions as they are, then as the mirror
        # image sees them. Looked up per trial, they keep the counterbalancing to a few percent of
        # a rollout's time (experiments/bench_rollout.py).
        own = torch.arange(-1, len(game.spec.participant_actions))
        seen = torch.arange(-1, len(game.spec.adversary_actions))
        mirrored = game.mirror(own, torch.full_like(own, -1))
        if counterbalance and mirrored is None:
            raise ValueError(f"{game.spec.label} has no mirror image to counterbalance")
        self.counterbalance = mirrored is not None if counterbalance is None else counterbalance
        if mirrored is not None:
            self.own_table = torch.cat([own, mirrored[0]])
            self.seen_table = torch.cat([seen, game.mirror(torch.full_like(seen, -1), seen)[1]])

    def reset(self, batch_size, *, generator=None, device="cpu") -> Any:
        # The episodes' device is only known here (as for ShapingAdversary.reset).
        self.net.to(device)
        hidden = self.net.initial_hidden(batch_size, device)
        if not self.counterbalance:
            return hidden
        mirrored = torch.rand(batch_size, generator=generator, device=device) < 0.5
        self.own_table, self.seen_table = self.own_table.to(device), self.seen_table.to(device)
        n_own, n_seen = len(self.own_table) // 2, len(self.seen_table) // 2
        options = self.own_table[1:n_own]
        order = torch.where(mirrored.unsqueeze(1), self.own_table[n_own + 1:], options)
        return hidden, Orientation(mirrored, 1 + n_own * mirrored.long(), 1 + n_seen * mirrored.long(), order)

    @torch.no_grad()
    def act(self, view: ParticipantView, state) -> tuple[Tensor, Any]:
        if not self.counterbalance:
            hidden = self.net.step(view, state)
            return torch.softmax(self.net.logits_for(hidden[-1], view.cue), dim=-1), hidden
        hidden, orientation = state
        changes = {"last_action": self.own_table[view.last_action + orientation.own_index]}
        if self.game.spec.participant_sees is not Sight.NOTHING:
            changes["last_seen"] = self.seen_table[view.last_seen + orientation.seen_index]
        hidden = self.net.step(dataclasses.replace(view, **changes), hidden)
        probs = torch.softmax(self.net.logits_for(hidden[-1], view.cue), dim=-1)
        # The mirror image picks option k with the probability the surrogate gives its mirror.
        return probs.gather(1, orientation.choice_order), (hidden, orientation)

    def select(self, state, rows: Tensor):
        # The GRU's hidden state is [layers, B, H]: its episodes are along the second dimension.
        if not self.counterbalance:
            return state[:, rows]
        hidden, orientation = state
        return hidden[:, rows], map_batched(lambda x: x[rows], orientation)

    def concatenate(self, states):
        if not self.counterbalance:
            return torch.cat(states, dim=1)
        hidden = torch.cat([h for h, _ in states], dim=1)
        return hidden, map_batched(lambda *xs: torch.cat(xs), *(o for _, o in states))
