"""Exports of a study's data, documented in docs/data.md: the trials (one row per completed trial),
the participants (one row each), Prolific's bulk-bonus file, the study's settings, and all of these
with docs/data.md in one zip.

The trial table is exactly what the surrogate trainer reads (DESIGN.md, principle 6), so change a
column only together with docs/data.md (and its copy in shaping_core/learners/datasets.py).

Practice trials are never exported. Test participants (researchers' previews) are left out unless
`include_test`, and the recruitment platform's ids unless `include_external_ids`. These functions
only read: callers first run `studies.services.participants_end_due`, so that the exported statuses are
current.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, Q, QuerySet, Sum

from shaping_core.data.schema import (EXTERNAL_ID_COLUMNS, PARTICIPANT_COLUMNS, PARTICIPANT_TEST_COLUMN,
                                      TRIAL_COLUMNS, TRIAL_TEST_COLUMN, table_bytes, typed)
from webapp.play.models import Trial
from webapp.studies.models import Participant, Study
from webapp.studies.selectors import bonus_for_points


# Who is paid a bonus: those who finished, and those whose game the study's close ended (they saw
# the debrief with the points earned so far, and were told those points are paid).
BONUS_STATUSES = (Participant.Status.COMPLETED, Participant.Status.ENDED_AT_CLOSE)
# An id goes into the bonus file only if it is a plain token (a Prolific id is 24 hex digits): a
# comma, quote or line break in a label typed into the join link could otherwise add a line of its
# own, paying someone else.
PLAIN_ID = re.compile(r"[A-Za-z0-9_.-]+")
CENT = Decimal("0.01")

BUNDLE_FILES = ("trials.csv", "trials.parquet", "participants.csv", "prolific_bonus.csv", "study.json",
                "data.md")


def trials_frame(*, study: Study, include_external_ids: bool = False, include_test: bool = False) -> pd.DataFrame:
    game = study.make_game()
    p_names, a_names = game.spec.participant_actions, game.spec.adversary_actions
    target = game.target_participant_action
    trials = (Trial.objects.filter(participant__study=study, practice=False, participant_action__isnull=False)
              .select_related("participant", "participant__condition")
              .order_by("participant_id", "index"))
    if not include_test:
        trials = trials.filter(participant__is_test=False)
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
            "target_action_index": target,
            "participant_status": participant.status,
            TRIAL_TEST_COLUMN: participant.is_test,
            "external_id": participant.external_id,
            "external_study_id": participant.external_study_id,
            "external_session_id": participant.external_session_id,
        }
        rows.append(row)
    columns = (list(TRIAL_COLUMNS) + ([TRIAL_TEST_COLUMN] if include_test else [])
               + (EXTERNAL_ID_COLUMNS if include_external_ids else []))
    return typed(pd.DataFrame(rows, columns=columns), {**TRIAL_COLUMNS, TRIAL_TEST_COLUMN: "bool"})


def _participants_with_points(study: Study, *, include_test: bool) -> QuerySet[Participant]:
    """The study's participants in joining order, each with `trials_completed` and `points` (the sum
    of their completed game trials' participant rewards, as participant_earnings sums them), in one
    query. Practice trials count for neither."""
    completed = Q(trials__participant_action__isnull=False, trials__practice=False)
    participants = (study.participants.select_related("condition").order_by("id")
                    .annotate(trials_completed=Count("trials", filter=completed),
                              points=Sum("trials__participant_reward", filter=completed)))
    return participants if include_test else participants.filter(is_test=False)


def participants_frame(*, study: Study, include_external_ids: bool = False,
                       include_test: bool = False) -> pd.DataFrame:
    show_up_fee = study.show_up_fee.quantize(CENT)
    rows = []
    for participant in _participants_with_points(study, include_test=include_test):
        points = participant.points or 0.0
        bonus = bonus_for_points(points, study.money_per_point)
        rows.append({
            "study": study.slug,
            "participant": participant.public_id,
            "condition": participant.condition.name,
            "adversary": participant.condition.adversary,
            "status": participant.status,
            "joined_at": participant.joined_at,
            "consented_at": participant.consented_at,
            "started_at": participant.started_at,
            "completed_at": participant.completed_at,
            "ended_at": participant.ended_at,
            "last_seen_at": participant.last_seen_at,
            "trials_completed": participant.trials_completed,
            "points": points,
            "bonus": bonus,
            "show_up_fee": show_up_fee,
            "total_pay": bonus + show_up_fee,
            "currency": study.currency,
            "comprehension_attempts": participant.comprehension_attempts,
            "episode_length": participant.episode_length,
            "screen_order": json.dumps(participant.screen_order),
            PARTICIPANT_TEST_COLUMN: participant.is_test,
            "external_id": participant.external_id,
            "external_study_id": participant.external_study_id,
            "external_session_id": participant.external_session_id,
        })
    columns = (list(PARTICIPANT_COLUMNS) + ([PARTICIPANT_TEST_COLUMN] if include_test else [])
               + (EXTERNAL_ID_COLUMNS if include_external_ids else []))
    return typed(pd.DataFrame(rows, columns=columns), PARTICIPANT_COLUMNS)


@dataclass(frozen=True)
class BonusPayment:
    external_id: str
    amount: Decimal  # in the study's currency, to the cent


@dataclass(frozen=True)
class BonusFile:
    payments: list[BonusPayment]
    unusable_ids: list[str]  # public ids of those owed a bonus whose external id is not a plain token

    @property
    def total(self) -> Decimal:
        return sum((p.amount for p in self.payments), Decimal("0.00"))

    def csv(self) -> bytes:
        """Prolific's bulk-bonus format: `ID,amount` per line, no header."""
        return "".join(f"{p.external_id},{p.amount}\n" for p in self.payments).encode()


def bonus_file(*, study: Study) -> BonusFile:
    """The bonuses to pay: one per real participant who completed or was ended by the study's close,
    came with an external id and earned a bonus above zero."""
    payments, unusable = [], []
    owed = (_participants_with_points(study, include_test=False)
            .filter(status__in=BONUS_STATUSES).exclude(external_id=""))
    for participant in owed:
        amount = bonus_for_points(participant.points or 0.0, study.money_per_point)
        if amount <= 0:
            continue
        if PLAIN_ID.fullmatch(participant.external_id):
            payments.append(BonusPayment(external_id=participant.external_id, amount=amount))
        else:
            unusable.append(participant.public_id)
    return BonusFile(payments=payments, unusable_ids=unusable)


def study_description(*, study: Study, exported_at: datetime, include_test: bool,
                      include_external_ids: bool) -> dict:
    """study.json: every setting of the study, its game's actions and target, its conditions, and
    what the export holds."""
    game = study.make_game()
    return {
        "exported_at": exported_at,
        "export": {"include_test": include_test, "include_external_ids": include_external_ids,
                   "files": list(bundle_names(include_external_ids=include_external_ids))},
        "study": {field.name: field.value_from_object(study) for field in Study._meta.concrete_fields
                  if field.name != "id"},
        "game": {"name": study.game, "params": game.params.to_mapping(),
                 "participant_actions": list(game.spec.participant_actions),
                 "adversary_actions": list(game.spec.adversary_actions),
                 "target_action_index": game.target_participant_action},
        "conditions": [{"name": c.name, "adversary": c.adversary, "adversary_params": c.adversary_params,
                        "weight": c.weight} for c in study.conditions.order_by("id")],
    }


def bundle_names(*, include_external_ids: bool) -> tuple[str, ...]:
    """The bonus file is nothing but external ids, so it comes only with them."""
    return tuple(name for name in BUNDLE_FILES if include_external_ids or name != "prolific_bonus.csv")


def bundle_files(*, study: Study, exported_at: datetime, include_test: bool = False,
                 include_external_ids: bool = False) -> dict[str, bytes]:
    """Every export of the study by file name (BUNDLE_FILES), with docs/data.md as data.md."""
    trials = trials_frame(study=study, include_external_ids=include_external_ids, include_test=include_test)
    description = study_description(study=study, exported_at=exported_at, include_test=include_test,
                                     include_external_ids=include_external_ids)
    files = {
        "trials.csv": table_bytes(trials, "csv"),
        "trials.parquet": table_bytes(trials, "parquet"),
        "participants.csv": table_bytes(participants_frame(
            study=study, include_external_ids=include_external_ids, include_test=include_test), "csv"),
        "prolific_bonus.csv": bonus_file(study=study).csv() if include_external_ids else None,
        "study.json": (json.dumps(description, indent=2, cls=DjangoJSONEncoder) + "\n").encode(),
        "data.md": (Path(settings.BASE_DIR) / "docs" / "data.md").read_bytes(),
    }
    return {name: files[name] for name in bundle_names(include_external_ids=include_external_ids)}


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()



