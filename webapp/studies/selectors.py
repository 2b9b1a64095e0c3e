"""Reads on studies and participants (DESIGN.md, principle 7)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from webapp.policies.models import ADVERSARY_PREFIX

from .models import Condition, Participant, Study


@dataclass(frozen=True)
class Earnings:
    points: float
    bonus: Decimal
    show_up_fee: Decimal
    total: Decimal
    currency: str


def bonus_for_points(points: float, money_per_point: Decimal) -> Decimal:
    """The bonus for a number of points: points × money per point, rounded half up to 0.01 (the
    debrief's and the exports' one rule)."""
    return (Decimal(str(points)) * money_per_point).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def participant_earnings(*, participant: Participant) -> Earnings:
    study = participant.study
    # Practice trials (webapp/play/models.py) earn nothing.
    points = participant.trials.filter(practice=False, participant_action__isnull=False).aggregate(
        s=Sum("participant_reward"))["s"] or 0.0
    bonus = bonus_for_points(points, study.money_per_point)
    return Earnings(points=points, bonus=bonus, show_up_fee=study.show_up_fee,
                    total=bonus + study.show_up_fee, currency=study.currency)


def dropout_cutoff():
    return timezone.now() - timedelta(minutes=settings.SHAPING_LAB_DROPOUT_MINUTES)


@dataclass(frozen=True)
class ConditionSummary:
    name: str
    adversary: str
    weight: int
    by_status: dict[str, int]
    total: int
    dropouts: int
    trials: int


def study_monitor(*, study: Study) -> list[ConditionSummary]:
    """Real participants (no previews) per condition and status, drop-outs and trials stored, for the
    monitor page."""
    cutoff = dropout_cutoff()
    in_progress = [Participant.Status.CONSENT, Participant.Status.INSTRUCTIONS, Participant.Status.PLAYING]
    summaries = []
    conditions = study.conditions.annotate(
        trial_count=Count("participants__trials", filter=Q(participants__trials__participant_action__isnull=False,
                                                           participants__trials__practice=False,
                                                           participants__is_test=False)),
    )
    for condition in conditions:
        real = condition.participants.filter(is_test=False)
        counts = dict(real.values_list("status").annotate(n=Count("id")))
        dropouts = real.filter(status__in=in_progress, last_seen_at__lt=cutoff).count()
        summaries.append(ConditionSummary(
            name=condition.name, adversary=condition.adversary, weight=condition.weight,
            by_status={s.label: counts.get(s.value, 0) for s in Participant.Status},
            total=sum(counts.values()), dropouts=dropouts, trials=condition.trial_count,
        ))
    return summaries


def studies_visible_to(user) -> QuerySet[Study]:
    """The studies `user` may see: all for a superuser, otherwise those they own or collaborate on
    (the queryset form of the `studies.view_study` rule in webapp/studies/rules.py)."""
    if user.is_superuser:
        return Study.objects.all()
    return Study.objects.filter(Q(pk__in=user.owned_studies.values("pk"))
                                | Q(pk__in=user.collaborating_studies.values("pk")))


@dataclass(frozen=True)
class ParticipantRow:
    """One line of the Monitor's live participant table."""

    public_id: str
    condition: str
    status: str
    trials_done: int  # completed trials; while playing, the current trial's index
    episode_length: int
    points: float
    joined_at: datetime
    last_seen_at: datetime
    is_test: bool


def study_participant_rows(*, study: Study, include_test: bool = False, limit: int = 500) -> list[ParticipantRow]:
    """The study's participants, the most recently seen first, with their progress and points."""
    participants = study.participants.all() if include_test else study.participants.filter(is_test=False)
    done = Q(trials__participant_action__isnull=False, trials__practice=False)
    rows = (participants.select_related("condition")
            .annotate(trials_done=Count("trials", filter=done), points=Sum("trials__participant_reward", filter=done))
            .order_by("-last_seen_at", "-id")[:limit])
    return [ParticipantRow(public_id=p.public_id, condition=p.condition.name, status=p.get_status_display(),
                           trials_done=p.trials_done, episode_length=p.episode_length, points=p.points or 0.0,
                           joined_at=p.joined_at, last_seen_at=p.last_seen_at, is_test=p.is_test)
            for p in rows]


def policy_conditions(*, name: str, with_participants: bool = False) -> QuerySet:
    """The study conditions whose adversary is this registered policy."""
    conditions = Condition.objects.filter(adversary=f"{ADVERSARY_PREFIX}{name}").select_related("study")
    if with_participants:
        conditions = conditions.filter(participants__isnull=False).distinct()
    return conditions


def participant_conditions(*, tokens: Sequence[str]) -> dict[str, str]:
    """{token: condition name} of the participants with these tokens (bots' summaries)."""
    found = {}
    for start in range(0, len(tokens), 500):  # SQLite limits the parameters of one query
        chunk = tokens[start:start + 500]
        found.update(Participant.objects.filter(token__in=chunk).values_list("token", "condition__name"))
    return found
