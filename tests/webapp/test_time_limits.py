"""Time limits and Close: who is ended when, and the places that go back to the pool."""

from datetime import timedelta
from itertools import product

import pytest
from django.utils import timezone

from helpers import make_player
from webapp.play.services import play_start, trial_submit
from webapp.studies.models import Participant, Study
from webapp.studies.services import (ExternalIds, StudyFull, ending_due, participant_join, participants_end_due,
                                     study_set_status)

Status = Participant.Status


def age(participant, minutes, field="joined_at"):
    Participant.objects.filter(pk=participant.pk).update(**{field: timezone.now() - timedelta(minutes=minutes)})


def test_a_visitor_who_never_starts_frees_their_place_for_the_next_person(study_factory):
    study = study_factory("ipd", cap=1, start_time_limit_minutes=30)
    first, _ = participant_join(study=study, external=ExternalIds(participant="first"))
    with pytest.raises(StudyFull):
        participant_join(study=study, external=ExternalIds(participant="second"))
    age(first, 31)
    second, created = participant_join(study=study, external=ExternalIds(participant="second"))
    assert created and second.condition == first.condition
    first.refresh_from_db()
    assert first.status == Status.TIMED_OUT and first.ended_at is not None


def test_an_idle_player_times_out_and_a_moving_one_does_not(study_factory):
    study = study_factory("ipd", cap=2, idle_time_limit_minutes=10)
    idle, moving = make_player(study, "idle"), make_player(study, "moving")
    age(idle, 11, "last_seen_at")
    age(moving, 9, "last_seen_at")
    assert participants_end_due(study=study, now=timezone.now()) == 1
    assert Participant.objects.get(pk=idle.pk).status == Status.TIMED_OUT
    assert Participant.objects.get(pk=moving.pk).status == Status.PLAYING
    participant_join(study=study, external=ExternalIds(participant="third"))  # idle's place is free again


def test_no_limit_means_nobody_times_out(study_factory):
    study = study_factory("ipd", start_time_limit_minutes=None, idle_time_limit_minutes=None)
    waiting, _ = participant_join(study=study, external=ExternalIds())
    player = make_player(study)
    age(waiting, 10_000)
    age(player, 10_000, "last_seen_at")
    assert participants_end_due(study=study, now=timezone.now()) == 0


def test_close_ends_those_not_started_at_once_and_games_after_the_grace_period(study_factory):
    study = study_factory("ipd", close_grace_minutes=5)
    waiting, _ = participant_join(study=study, external=ExternalIds())
    player = make_player(study)
    live = play_start(participant=player)
    trial_submit(participant=player, live=live, trial_index=0, action=0, reaction_time_ms=300.0)
    study = study_set_status(study=study, action="close")
    assert Participant.objects.get(pk=waiting.pk).status == Status.ENDED_AT_CLOSE
    assert Participant.objects.get(pk=player.pk).status == Status.PLAYING  # within the grace period
    assert participants_end_due(study=study, now=study.closed_at + timedelta(minutes=4)) == 0
    assert participants_end_due(study=study, now=study.closed_at + timedelta(minutes=5)) == 1
    player.refresh_from_db()
    assert player.status == Status.ENDED_AT_CLOSE and player.trials.filter(participant_action__isnull=False).count() == 1


def test_close_with_no_grace_ends_games_in_progress_at_once(study_factory):
    study = study_factory("ipd", close_grace_minutes=0)
    player = make_player(study)
    study_set_status(study=study, action="close")
    assert Participant.objects.get(pk=player.pk).status == Status.ENDED_AT_CLOSE


def test_completed_and_declined_participants_are_never_ended(study_factory):
    study = study_factory("ipd", close_grace_minutes=0, start_time_limit_minutes=1, idle_time_limit_minutes=2)
    done, declined = make_player(study), make_player(study)
    Participant.objects.filter(pk=done.pk).update(status=Status.COMPLETED)
    Participant.objects.filter(pk=declined.pk).update(status=Status.DECLINED)
    for p in (done, declined):
        age(p, 100)
        age(p, 100, "last_seen_at")
    study_set_status(study=study, action="close")
    assert sorted(Participant.objects.values_list("status", flat=True)) == [Status.COMPLETED, Status.DECLINED]


@pytest.mark.parametrize("study_status, limits", list(product(["live", "closed"], [(30, 10), (None, None)])))
def test_the_one_participant_rule_agrees_with_the_whole_study_rule(study_factory, study_status, limits):
    """`ending_due` (a participant's page and moves) and `participants_end_due` (joins, close,
    monitor, export) state the same rules twice, once in Python and once as queries."""
    study = study_factory("ipd", start_time_limit_minutes=limits[0], idle_time_limit_minutes=limits[1],
                          close_grace_minutes=5)
    people = []
    for status, minutes in product([Status.CONSENT, Status.INSTRUCTIONS, Status.PLAYING, Status.COMPLETED],
                                   [1, 9, 11, 29, 31, 100]):
        participant, _ = participant_join(study=study, external=ExternalIds())
        Participant.objects.filter(pk=participant.pk).update(
            status=status, joined_at=timezone.now() - timedelta(minutes=minutes),
            last_seen_at=timezone.now() - timedelta(minutes=minutes))
        people.append(participant.pk)
    if study_status == "closed":
        Study.objects.filter(pk=study.pk).update(status=Study.Status.CLOSED,
                                                 closed_at=timezone.now() - timedelta(minutes=3))
    study.refresh_from_db()
    now = timezone.now() + timedelta(seconds=1)
    for later in (0, 10):  # within and after the close's grace period
        moment = now + timedelta(minutes=later)
        expected = {p.pk: ending_due(participant=p, study=study, now=moment) or p.status
                    for p in Participant.objects.filter(pk__in=people)}
        participants_end_due(study=study, now=moment)
        assert dict(Participant.objects.filter(pk__in=people).values_list("pk", "status")) == expected
