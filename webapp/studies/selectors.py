"""Reads on studies and participants (DESIGN.md, principle 7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from .models import Participant, Study


@dataclass(frozen=True)
class Earnings:
    points: float
    bonus: Decimal
    show_up_fee: Decimal
    total: Decimal
    currency: str


def participant_earnings(*, participant: Participant) -> Earnings:
    study = participant.study
    points = participant.trials.filter(participant_action__isnull=False).aggregate(
        s=Sum("participant_reward"))["s"] or 0.0
    bonus = (Decimal(str(points)) * study.money_per_point).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
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
    """Participants per condition and status, drop-outs and trials stored, for the monitor page."""
    cutoff = dropout_cutoff()
    in_progress = [Participant.Status.CONSENT, Participant.Status.INSTRUCTIONS, Participant.Status.PLAYING]
    summaries = []
    conditions = study.conditions.annotate(
        trial_count=Count("participants__trials", filter=Q(participants__trials__participant_action__isnull=False)),
    )
    for condition in conditions:
        counts = dict(condition.participants.values_list("status").annotate(n=Count("id")))
        dropouts = condition.participants.filter(status__in=in_progress, last_seen_at__lt=cutoff).count()
        summaries.append(ConditionSummary(
            name=condition.name, adversary=condition.adversary, weight=condition.weight,
            by_status={s.label: counts.get(s.value, 0) for s in Participant.Status},
            total=sum(counts.values()), dropouts=dropouts, trials=condition.trial_count,
        ))
    return summaries
