"""Participants' trials as padded tensors: what the surrogate is fitted on and evaluated with.

Every data source (the platform's export, the public datasets, simulated learners) becomes the
long trial table of docs/data.md first and then a `TrialSequences`, one row per participant:

    sequences = sequences_from_frame(frame, game)      # frame: one row per trial
    views = sequences.views()                          # ParticipantView with [N, T] fields

Sequences shorter than the longest are padded with action -1; `mask` marks real trials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ..games import Game
from ..participants import ParticipantView, sequence_views
from .schema import context_columns


@dataclass
class TrialSequences:
    game: Game
    participant_actions: Tensor  # [N, T] long, -1 after a sequence's end
    participant_rewards: Tensor  # [N, T] float, 0 after the end
    adversary_actions: Tensor  # [N, T] long, -1 after the end or where the data lack it
    ids: list[str]  # participant id of each row
    provenance: dict[str, Any] = field(default_factory=dict)  # where the data came from
    # [N, T, k] float: each trial's participant context (Game.participant_context) where the
    # sequences come from different versions of the game; None: every trial is in `game` itself
    context: Tensor | None = None

    @property
    def mask(self) -> Tensor:
        return self.participant_actions >= 0

    @property
    def n_sequences(self) -> int:
        return self.participant_actions.shape[0]

    @property
    def n_choices(self) -> int:
        return int(self.mask.sum())

    def views(self) -> ParticipantView:
        return sequence_views(self.game, self.participant_actions, self.participant_rewards,
                              self.adversary_actions, self.context)

    @property
    def can_mirror(self) -> bool:
        return self.game.mirror(self.participant_actions[:0], self.adversary_actions[:0]) is not None

    def with_mirror_images(self) -> TrialSequences:
        """These sequences followed by each one with the participant's options swapped
        (Game.mirror): what a participant-side symmetry of the game implies about the data."""
        mirrored = self.game.mirror(self.participant_actions, self.adversary_actions)
        if mirrored is None:
            raise ValueError(f"{self.game.spec.label} has no mirror image: its actions are not interchangeable")
        participant, adversary = mirrored
        return TrialSequences(self.game, torch.cat([self.participant_actions, participant]),
                              self.participant_rewards.repeat(2, 1), torch.cat([self.adversary_actions, adversary]),
                              self.ids + [f"{i} (mirrored)" for i in self.ids], dict(self.provenance),
                              None if self.context is None else self.context.repeat(2, 1, 1))

    def subset(self, index: Tensor | list[int]) -> TrialSequences:
        index = torch.as_tensor(index, dtype=torch.long)
        return TrialSequences(self.game, self.participant_actions[index],
                              self.participant_rewards[index], self.adversary_actions[index],
                              [self.ids[i] for i in index.tolist()], dict(self.provenance),
                              None if self.context is None else self.context[index])


def sequences_from_frame(frame: pd.DataFrame, game: Game,
                         provenance: dict[str, Any] | None = None) -> TrialSequences:
    """Pad a long trial table (columns `participant`, `trial`, `participant_action_index`,
    `participant_reward`, `adversary_action_index`; see docs/data.md) into sequences.

    `adversary_action_index` may be -1 where a data source does not know the adversary's move
    (the public bandit data do not record the unchosen option's reward), and a reward NaN where it
    does not know the outcome (the human IPD data's last rounds): it is read as 0, and nothing
    after a sequence's last trial is predicted from it. Trials must be numbered 0, 1, 2, ...
    within each participant. Where the frame has the game's context columns
    (schema.context_columns: `context_<name>` for each of spec.participant_context), they
    become `context`.
    """
    frame = frame.sort_values(["participant", "trial"], kind="stable")
    groups = frame.groupby("participant", sort=False)
    ids = list(groups.groups)
    lengths = groups.size().to_numpy()
    longest = int(lengths.max()) if len(lengths) else 0
    row = np.repeat(np.arange(len(ids)), lengths)
    column = frame["trial"].to_numpy(dtype=np.int64)
    actions = np.full((len(ids), longest), -1, dtype=np.int64)
    rewards = np.zeros((len(ids), longest), dtype=np.float32)
    adversary = np.full((len(ids), longest), -1, dtype=np.int64)
    actions[row, column] = frame["participant_action_index"].to_numpy(dtype=np.int64)
    rewards[row, column] = np.nan_to_num(frame["participant_reward"].to_numpy(dtype=np.float32))
    adversary[row, column] = frame["adversary_action_index"].to_numpy(dtype=np.int64)
    context = None
    names = context_columns(game)
    if names and all(name in frame.columns for name in names):
        values = np.zeros((len(ids), longest, len(names)), dtype=np.float32)
        values[row, column] = frame[names].to_numpy(dtype=np.float32)
        context = torch.from_numpy(values)
    return TrialSequences(game, torch.from_numpy(actions), torch.from_numpy(rewards),
                          torch.from_numpy(adversary), [str(i) for i in ids], dict(provenance or {}),
                          context)
