"""Synthetic datasets: simulated participants' trials in the platform's export table.

A synthetic learner playing an adversary produces exactly the table a real study exports
(docs/data.md), so everything downstream (fitting the surrogate, training an adversary against
it, evaluating transfer) runs unchanged on data whose generating model is known:

    frame = simulate_trials(game, make_learner("q_learning", game), make_policy(...), 200, seed=0)
    write_trials(frame, "out/sim.parquet")  # shaping_core.data.schema

Columns the simulation cannot know are left empty: reaction times (NaN), the timestamps (NaT)
and the adversary's full probabilities (the simulation records only the chosen action's).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import torch

from ..data.schema import TIMESTAMP, TRIAL_COLUMNS
from ..games import Game
from ..participants import ParticipantModel
from ..policies import Policy
from ..simulation import Episodes, play_episodes

def participant_ids(n: int) -> list[str]:
    """`sim0000`, `sim0001`, ...: zero-padded so that sorting by id keeps simulation order."""
    width = max(4, len(str(n - 1)))
    return [f"sim{i:0{width}d}" for i in range(n)]


def simulate_trials(game: Game, learner: ParticipantModel, adversary: Policy, n_participants: int,
                    *, seed: int, study: str = "synthetic",
                    condition: str = "synthetic") -> pd.DataFrame:
    """Play `n_participants` episodes of `learner` against `adversary` (one batch, a torch
    generator seeded with `seed`) and return the played trials as the export table of
    docs/data.md, ordered by participant and trial. The same arguments give the same table."""
    for who, model in (("learner", learner), ("adversary", adversary)):
        if model.game.spec.name != game.spec.name or model.game.params != game.params:
            raise ValueError(f"the {who} was built for another game ({model.game!r}, not {game!r})")
    if n_participants < 1:
        raise ValueError(f"n_participants must be at least 1, got {n_participants}")
    generator = torch.Generator().manual_seed(seed)
    episodes = play_episodes(game, learner, adversary, n_participants, generator=generator)
    return episodes_frame(game, episodes, adversary_name=adversary.name,
                          adversary_params=adversary.params.to_mapping(), study=study,
                          condition=condition)


def episodes_frame(game: Game, episodes: Episodes, *, adversary_name: str,
                   adversary_params: dict, study: str, condition: str) -> pd.DataFrame:
    """The played trials (Episodes.active) of a batch as the export table."""
    active = episodes.active.cpu().numpy()
    episode, trial = np.nonzero(active)  # row-major: by participant, then trial
    n_rows = len(episode)

    def played(x: torch.Tensor) -> np.ndarray:
        return x.cpu().numpy()[episode, trial]

    p_names = np.array(game.spec.participant_actions, dtype=object)
    a_names = np.array(game.spec.adversary_actions, dtype=object)
    p_index, a_index = played(episodes.participant_actions), played(episodes.adversary_actions)
    ids = np.array(participant_ids(active.shape[0]), dtype=object)

    def constant(value) -> list:
        return [value] * n_rows

    columns = {
        "study": constant(study),
        "condition": constant(condition),
        "adversary": constant(adversary_name),
        "adversary_params": constant(json.dumps(adversary_params, sort_keys=True)),
        "participant": ids[episode],
        "game": constant(game.spec.name),
        "trial": trial.astype(np.int64),
        "participant_action": p_names[p_index],
        "participant_action_index": p_index.astype(np.int64),
        "adversary_action": a_names[a_index],
        "adversary_action_index": a_index.astype(np.int64),
        "participant_reward": played(episodes.participant_rewards).astype(np.float64),
        "adversary_reward": played(episodes.adversary_rewards).astype(np.float64),
        "reaction_time_ms": np.full(n_rows, np.nan),
        "presented_at": pd.Series(pd.NaT, index=range(n_rows), dtype=TIMESTAMP),
        "responded_at": pd.Series(pd.NaT, index=range(n_rows), dtype=TIMESTAMP),
        "adversary_probs": constant(None),
        "episode_length": active.sum(axis=1).astype(np.int64)[episode],
        # Simulated participants have no screen: actions in index order, as the platform shows
        # every game but the counterbalanced bandit.
        "screen_order": constant(json.dumps(list(range(len(game.spec.participant_actions))))),
        "target_action_index": pd.array(constant(game.target_participant_action), dtype="Int64"),
        "participant_status": constant("completed"),
    }
    return pd.DataFrame(columns, columns=list(TRIAL_COLUMNS))
