"""Export of a study's trials in the long format documented in docs/data.md.

One row per completed trial. This table is exactly what the surrogate trainer reads (DESIGN.md,
principle 6), so change a column only together with docs/data.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from webapp.play.models import Trial

from .models import Study

COLUMNS = [
    "study", "condition", "adversary", "adversary_params", "participant", "game", "trial",
    "participant_action", "participant_action_index", "adversary_action", "adversary_action_index",
    "participant_reward", "adversary_reward", "reaction_time_ms", "presented_at", "responded_at",
    "adversary_probs", "episode_length", "screen_order", "participant_status",
]
EXTERNAL_ID_COLUMNS = ["external_id", "external_study_id", "external_session_id"]
FORMATS = ("csv", "parquet")


def trials_frame(*, study: Study, include_external_ids: bool = False) -> pd.DataFrame:
    game = study.make_game()
    p_names, a_names = game.spec.participant_actions, game.spec.adversary_actions
    trials = (Trial.objects.filter(participant__study=study, participant_action__isnull=False)
              .select_related("participant", "participant__condition")
              .order_by("participant_id", "index"))
    rows = []
    for trial in trials.iterator(chunk_size=2000):
        participant, condition = trial.participant, trial.participant.condition
        row = {
            "study": study.slug,
            "condition": condition.name,
            "adversary": condition.adversary,
            "adversary_params": json.dumps(condition.adversary_params, sort_keys=True),
            "participant": participant.public_id,
            "game": study.game,
            "trial": trial.index,
            "participant_action": p_names[trial.participant_action],
            "participant_action_index": trial.participant_action,
            "adversary_action": a_names[trial.adversary_action],
            "adversary_action_index": trial.adversary_action,
            "participant_reward": trial.participant_reward,
            "adversary_reward": trial.adversary_reward,
            "reaction_time_ms": trial.reaction_time_ms,
            "presented_at": trial.presented_at,
            "responded_at": trial.responded_at,
            "adversary_probs": json.dumps(trial.adversary_probs) if trial.adversary_probs is not None else None,
            "episode_length": participant.episode_length,
            "screen_order": json.dumps(participant.screen_order),
            "participant_status": participant.status,
        }
        if include_external_ids:
            row.update(external_id=participant.external_id, external_study_id=participant.external_study_id,
                       external_session_id=participant.external_session_id)
        rows.append(row)
    columns = COLUMNS + (EXTERNAL_ID_COLUMNS if include_external_ids else [])
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("presented_at", "responded_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.astype({"trial": "int64", "participant_action_index": "int64", "adversary_action_index": "int64",
                         "episode_length": "int64", "reaction_time_ms": "float64",
                         "participant_reward": "float64", "adversary_reward": "float64"})


def write_trials(frame: pd.DataFrame, destination, fmt: str) -> None:
    """Write to a path or a binary file object."""
    if fmt == "csv":
        data = frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ").encode()
        if isinstance(destination, (str, Path)):
            Path(destination).write_bytes(data)
        else:
            destination.write(data)
    elif fmt == "parquet":
        frame.to_parquet(destination, index=False, engine="pyarrow")
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
