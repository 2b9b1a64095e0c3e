"""Writes on studies and participants. Each service is one transaction (DESIGN.md, principle 7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import torch
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from shaping_core.games import Game

from .models import Condition, Participant, Study


class StudyTransitionError(ValidationError):
    """A study cannot move to the requested status; the message says why."""


class StudyNotOpen(Exception):
    """The study admits no new participants (draft, paused, closed)."""


class StudyFull(Exception):
    """Every condition has reached its cap."""


_TRANSITIONS = {
    "launch": ({Study.Status.DRAFT, Study.Status.PAUSED}, Study.Status.LIVE),
    "pause": ({Study.Status.LIVE}, Study.Status.PAUSED),
    "close": ({Study.Status.LIVE, Study.Status.PAUSED, Study.Status.DRAFT}, Study.Status.CLOSED),
}


def study_status_actions(*, study: Study) -> list[str]:
    """The actions of `study_set_status` that `study`'s current status allows, in the order launch,
    pause, close."""
    return [action for action, (allowed_from, _) in _TRANSITIONS.items() if study.status in allowed_from]


def study_set_status(*, study: Study, action: str) -> Study:
    """Launch, pause or close a study. Launching checks the study can actually be played."""
    allowed_from, target = _TRANSITIONS[action]
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        if study.status not in allowed_from:
            raise StudyTransitionError(f"cannot {action} {study.name!r}: it is {study.get_status_display().lower()}")
        if target == Study.Status.LIVE:
            _check_playable(study)
        study.status = target
        now = timezone.now()
        if target == Study.Status.LIVE and study.launched_at is None:
            study.launched_at = now
        if target == Study.Status.CLOSED:
            study.closed_at = now
        study.save(update_fields=["status", "launched_at", "closed_at"])
        if target == Study.Status.CLOSED:
            participants_end_due(study=study, now=now)
    return study


def _check_playable(study: Study, verb: str = "launch") -> None:
    study.full_clean()
    conditions = list(study.conditions.all())
    if not conditions:
        raise StudyTransitionError(f"cannot {verb} {study.name!r}: it has no conditions")
    for condition in conditions:
        try:
            condition.full_clean()
        except ValidationError as error:
            raise StudyTransitionError(f"cannot {verb} {study.name!r}: condition {condition.name}: "
                                       f"{'; '.join(error.messages)}") from None


# The query parameters of a join link that name the person on a recruitment platform.
EXTERNAL_ID_FIELDS = ("PROLIFIC_PID", "participant_label", "STUDY_ID", "SESSION_ID")


@dataclass(frozen=True)
class ExternalIds:
    """Ids a recruitment platform passes on the join link (Prolific's names, or a generic label)."""

    participant: str = ""
    study: str = ""
    session: str = ""

    @classmethod
    def from_query(cls, query) -> ExternalIds:
        participant = query.get("PROLIFIC_PID") or query.get("participant_label") or ""
        return cls(participant=participant.strip()[:200],
                   study=query.get("STUDY_ID", "").strip()[:200],
                   session=query.get("SESSION_ID", "").strip()[:200])


def participant_join(*, study: Study, external: ExternalIds) -> tuple[Participant, bool]:
    """Admit a participant to a live study, or find their existing participation.

    Returns (participant, created). The same external id always gets the same participation.
    The condition is the one furthest below its weighted share among those under the cap; the
    study row is locked so concurrent joins are assigned one at a time and never exceed a cap.
    """
    try:
        return _join_locked(study, external)
    except IntegrityError:
        # Two first visits with one external id raced past the lookup; the other one won.
        return Participant.objects.get(study=study, external_id=external.participant), False


def _join_locked(study: Study, external: ExternalIds) -> tuple[Participant, bool]:
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        if external.participant:
            existing = Participant.objects.filter(study=study, external_id=external.participant).first()
            if existing:
                return existing, False
        if study.status != Study.Status.LIVE:
            raise StudyNotOpen(study.get_status_display())
        participants_end_due(study=study, now=timezone.now())  # frees the places of those timed out
        condition, assigned_so_far = _choose_condition(study)
        return _new_participant(study, condition, assigned_so_far, external=external), True


def _new_participant(study: Study, condition: Condition, assigned_so_far: int, *, external: ExternalIds,
                     is_test: bool = False) -> Participant:
    game = study.make_game()
    participant = Participant(study=study, condition=condition, external_id=external.participant,
                              external_study_id=external.study, external_session_id=external.session,
                              is_test=is_test)
    generator = torch.Generator().manual_seed(participant.seed)
    participant.episode_length = int(game.init(1, generator=generator).length[0])
    participant.screen_order = _screen_order(game, assigned_so_far)
    participant.save()
    return participant


def participant_preview(*, study: Study, condition: Condition | None = None) -> Participant:
    """A test participant, for a researcher trying the study: any status, drafts included, in the
    given condition or the first. Takes no place and is left out of exports and reports."""
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        _check_playable(study, verb="preview")
        condition = condition or study.conditions.order_by("id").first()
        tests_so_far = study.participants.filter(condition=condition, is_test=True).count()
        return _new_participant(study, condition, tests_so_far, external=ExternalIds(), is_test=True)


def participant_delete(*, participant: Participant) -> None:
    """Delete a participant and their trials. Trials are protected from every other deletion, so a
    study's data cannot be lost by deleting something else; who may call this is decided by the
    `studies.delete_participant` permission (webapp/studies/rules.py)."""
    with transaction.atomic():
        participant.trials.all().delete()
        participant.delete()


def study_duplicate(*, study: Study, by=None) -> Study:
    """A new draft with the study's settings and conditions, named "Copy of ..."; `by` owns it."""
    with transaction.atomic():
        copy = Study.objects.get(pk=study.pk)
        copy.pk = copy.id = None
        copy._state.adding = True
        copy.name = f"Copy of {study.name}"[:200]
        copy.slug = _free_slug(f"{study.slug}-copy")
        copy.status = Study.Status.DRAFT
        copy.launched_at = copy.closed_at = None
        copy.save()
        copy.owners.set([by] if by is not None else study.owners.all())
        copy.collaborators.set(study.collaborators.all())
        for condition in study.conditions.order_by("id"):
            Condition.objects.create(study=copy, name=condition.name, adversary=condition.adversary,
                                     adversary_params=condition.adversary_params, weight=condition.weight)
    return copy


def _free_slug(base: str) -> str:
    base = base[:45]
    slug, n = base, 2
    while Study.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _choose_condition(study: Study) -> tuple[Condition, int]:
    """The open condition with the smallest (assigned + 1) / weight; ties go to the earliest.

    A place is held by a real participant who is on their way (consent, instructions, playing) or
    has completed; test participants, those who declined, timed out or were ended by a close hold
    none."""
    counted = Q(participants__status__in=PLACE_HOLDING, participants__is_test=False)
    conditions = study.conditions.annotate(assigned=Count("participants", filter=counted)).order_by("id")
    cap = study.participant_cap_per_condition
    open_conditions = [c for c in conditions if cap is None or c.assigned < cap]
    if not open_conditions:
        raise StudyFull()
    best = min(open_conditions, key=lambda c: (c.assigned + 1) / c.weight)
    return best, best.assigned


def _screen_order(game: Game, assigned_so_far: int) -> list[int]:
    """Left-to-right order of the actions on screen. In games that counterbalance them (the
    bandit) the options swap sides for every other participant of a condition, so the target
    option is on each side equally often."""
    order = list(range(len(game.spec.participant_actions)))
    if game.spec.counterbalanced_sides and assigned_so_far % 2 == 1:
        order.reverse()
    return order


NOT_STARTED = (Participant.Status.CONSENT, Participant.Status.INSTRUCTIONS)
IN_PROGRESS = (*NOT_STARTED, Participant.Status.PLAYING)
PLACE_HOLDING = (*IN_PROGRESS, Participant.Status.COMPLETED)


def ending_due(*, participant: Participant, study: Study, now: datetime) -> str:
    """The status a participant in progress must move to now, or "" when they may go on.

    - Not started (consent, instructions) longer than the study's start limit since joining, or
      playing with no move (last seen) for longer than its idle limit: timed out.
    - The study closed: those who had not started end at once; games in progress end once the
      close's grace period has passed.

    `participants_end_due` applies the same rules to a whole study in one query each; a test checks
    that the two agree.
    """
    if participant.status not in IN_PROGRESS:
        return ""
    if participant.status in NOT_STARTED:
        limit = study.start_time_limit_minutes
        if limit is not None and now - participant.joined_at > timedelta(minutes=limit):
            return Participant.Status.TIMED_OUT
    else:
        limit = study.idle_time_limit_minutes
        if limit is not None and now - participant.last_seen_at > timedelta(minutes=limit):
            return Participant.Status.TIMED_OUT
    if study.status == Study.Status.CLOSED:
        if participant.status in NOT_STARTED or now >= _grace_ends(study):
            return Participant.Status.ENDED_AT_CLOSE
    return ""


def _grace_ends(study: Study) -> datetime:
    return study.closed_at + timedelta(minutes=study.close_grace_minutes)


def participants_end_due(*, study: Study, now: datetime) -> int:
    """End every participation of `study` that `ending_due` says must end; returns how many.

    Run where places are counted (joining) and where a study is read whole (close, monitor,
    export), so that nobody needs a scheduler: a place is freed when somebody next asks for one.
    """
    mine = Participant.objects.filter(study=study)
    ended = 0
    if study.start_time_limit_minutes is not None:
        ended += mine.filter(status__in=NOT_STARTED,
                             joined_at__lt=now - timedelta(minutes=study.start_time_limit_minutes)
                             ).update(status=Participant.Status.TIMED_OUT, ended_at=now)
    if study.idle_time_limit_minutes is not None:
        ended += mine.filter(status=Participant.Status.PLAYING,
                             last_seen_at__lt=now - timedelta(minutes=study.idle_time_limit_minutes)
                             ).update(status=Participant.Status.TIMED_OUT, ended_at=now)
    if study.status == Study.Status.CLOSED:
        ending = NOT_STARTED if now < _grace_ends(study) else IN_PROGRESS
        ended += mine.filter(status__in=ending).update(status=Participant.Status.ENDED_AT_CLOSE, ended_at=now)
    return ended


def participant_end_if_due(*, participant: Participant, now: datetime | None = None) -> Participant:
    """Apply `ending_due` to one participant (their page, their websocket), reading the study fresh:
    a close may have happened since `participant` was loaded."""
    now = now or timezone.now()
    study = Study.objects.get(pk=participant.study_id)
    status = ending_due(participant=participant, study=study, now=now)
    if status:
        updated = Participant.objects.filter(pk=participant.pk, status=participant.status).update(
            status=status, ended_at=now)
        if updated:
            participant.status, participant.ended_at = status, now
        else:  # it moved on meanwhile (another tab): read what it is now
            participant.refresh_from_db(fields=["status", "ended_at"])
    participant.study = study
    return participant


def participant_touch(*, participant: Participant) -> None:
    Participant.objects.filter(pk=participant.pk).update(last_seen_at=timezone.now())


def participant_consent(*, participant: Participant, agreed: bool) -> Participant:
    if participant.status != Participant.Status.CONSENT:
        return participant  # a repeated form post changes nothing
    participant.status = Participant.Status.INSTRUCTIONS if agreed else Participant.Status.DECLINED
    participant.consented_at = timezone.now() if agreed else None
    participant.last_seen_at = timezone.now()
    participant.save(update_fields=["status", "consented_at", "last_seen_at"])
    return participant


def participant_answer_comprehension(*, participant: Participant, answers: dict[int, int]) -> list[int]:
    """Check the answers; on all correct the participant moves on to play. Returns the numbers
    (1-based) of the questions answered wrongly."""
    if participant.status != Participant.Status.INSTRUCTIONS:
        return []
    questions = participant.study.comprehension_questions
    wrong = [n for n, q in enumerate(questions, start=1) if answers.get(n - 1) != q["answer"]]
    participant.comprehension_attempts += 1
    participant.last_seen_at = timezone.now()
    if not wrong:
        participant.status = Participant.Status.PLAYING
        participant.started_at = timezone.now()
    participant.save(update_fields=["comprehension_attempts", "last_seen_at", "status", "started_at"])
    return wrong
