"""The move's SQL statements (webapp.play.move_sql) read and write what the ORM does, on the
backend the suite runs on (SQLite by default, PostgreSQL under `make test-services`)."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from helpers import make_player, make_study
from webapp.play import move_sql
from webapp.play.models import Trial
from webapp.studies.models import Study

pytestmark = pytest.mark.django_db(transaction=True)

TRIAL_FIELDS = [field.attname for field in Trial._meta.concrete_fields]


def fields(trial: Trial) -> dict:
    return {name: getattr(trial, name) for name in TRIAL_FIELDS}


def test_an_inserted_then_completed_trial_reads_back_the_same_through_the_orm_and_the_sql():
    participant = make_player(make_study("bandit"))
    presented = timezone.now() - timedelta(seconds=3)
    with transaction.atomic():
        trial = move_sql.trial_insert(Trial(participant=participant, index=0, adversary_action=2,
                                            adversary_probs=[0.25, 0.75, 0.0, 0.0], presented_at=presented))
    assert trial.pk is not None and not trial._state.adding
    stored = Trial.objects.get(pk=trial.pk)
    assert fields(stored) == fields(trial)
    assert stored.adversary_probs == [0.25, 0.75, 0.0, 0.0] and stored.participant_action is None

    trial.participant_action, trial.participant_reward, trial.adversary_reward = 1, 1.0, -0.5
    trial.reaction_time_ms, trial.responded_at = 412.5, presented + timedelta(milliseconds=412)
    with transaction.atomic():
        move_sql.trial_complete(trial)
    assert fields(Trial.objects.get(pk=trial.pk)) == fields(trial)

    newest = move_sql.newest_trial(participant.pk)
    assert fields(newest) == fields(trial)
    assert newest.presented_at.tzinfo is not None and newest.presented_at == presented
    assert newest.is_complete


def test_the_newest_trial_is_the_last_of_the_game_after_the_practice_block():
    participant = make_player(make_study("bandit"))
    assert move_sql.newest_trial(participant.pk) is None
    now = timezone.now()
    for practice, index in ((True, 0), (True, 1), (False, 0), (False, 1), (False, 2)):
        Trial.objects.create(participant=participant, practice=practice, index=index, adversary_action=0,
                             presented_at=now)
    newest = move_sql.newest_trial(participant.pk)
    expected = Trial.objects.filter(participant=participant).order_by("practice", "-index").first()
    assert (newest.practice, newest.index) == (False, 2)
    assert fields(newest) == fields(expected)


def test_the_lock_reads_the_participants_and_the_studys_current_rules():
    study = make_study("bandit", status="closed", idle_time_limit_minutes=7, close_grace_minutes=3)
    participant = make_player(make_study("bandit"))
    participant.study_id = study.pk
    participant.save(update_fields=["study"])
    Study.objects.filter(pk=study.pk).update(start_time_limit_minutes=11)
    with transaction.atomic():
        locked = move_sql.participant_lock(participant.pk)
    study.refresh_from_db()
    assert (locked.status, locked.last_seen_at) == (participant.status, participant.last_seen_at)
    assert locked.study.status == Study.Status.CLOSED and locked.study.closed_at == study.closed_at
    assert locked.study.closed_at.tzinfo is not None
    assert (locked.study.close_grace_minutes, locked.study.start_time_limit_minutes,
            locked.study.idle_time_limit_minutes) == (3, 11, 7)
