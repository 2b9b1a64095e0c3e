"""Writes on studies and participants. Each service is one transaction (DESIGN.md, principle 7)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

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
    return study


def _check_playable(study: Study) -> None:
    study.full_clean()
    conditions = list(study.conditions.all())
    if not conditions:
        raise StudyTransitionError(f"cannot launch {study.name!r}: it has no conditions")
    for condition in conditions:
        try:
            condition.full_clean()
        except ValidationError as error:
            raise StudyTransitionError(f"cannot launch {study.name!r}: condition {condition.name}: "
                                       f"{'; '.join(error.messages)}") from None


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
        condition, assigned_so_far = _choose_condition(study)
        game = study.make_game()
        participant = Participant(study=study, condition=condition, external_id=external.participant,
                                  external_study_id=external.study, external_session_id=external.session)
        generator = torch.Generator().manual_seed(participant.seed)
        participant.episode_length = int(game.init(1, generator=generator).length[0])
        participant.screen_order = _screen_order(study.game, len(game.spec.participant_actions),
                                                 assigned_so_far)
        participant.save()
        return participant, True


def _choose_condition(study: Study) -> tuple[Condition, int]:
    """The open condition with the smallest (assigned + 1) / weight; ties go to the earliest."""
    counted = Q(participants__status__in=[s for s in Participant.Status if s != Participant.Status.DECLINED])
    conditions = study.conditions.annotate(assigned=Count("participants", filter=counted)).order_by("id")
    cap = study.participant_cap_per_condition
    open_conditions = [c for c in conditions if cap is None or c.assigned < cap]
    if not open_conditions:
        raise StudyFull()
    best = min(open_conditions, key=lambda c: (c.assigned + 1) / c.weight)
    return best, best.assigned


def _screen_order(game: str, n_actions: int, assigned_so_far: int) -> list[int]:
    """Left-to-right order of the actions on screen. The bandit's options swap sides for every
    other participant of a condition, so the target option is on each side equally often."""
    order = list(range(n_actions))
    if game == "bandit" and assigned_so_far % 2 == 1:
        order.reverse()
    return order


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
