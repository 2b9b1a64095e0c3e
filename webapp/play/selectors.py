"""Reads of live play (DESIGN.md, principle 7)."""

from __future__ import annotations

from shaping_core.games import Game
from webapp.studies.models import Participant, Study

from .models import Trial


def practice_game(*, study: Study) -> Game | None:
    """The game of the study's practice block, or None when it has none: no practice trials asked
    for, or a game without a practice block (the study's setting is then ignored)."""
    if study.practice_trials == 0:
        return None
    return study.make_game().practice_game(study.practice_trials)


def practice_length(*, study: Study) -> int:
    """The number of trials of the study's practice block; 0 when it has none."""
    practice = practice_game(study=study)
    return practice.max_trials if practice else 0


def block_trials(*, participant: Participant, practice: bool) -> list[Trial]:
    """The participant's trials of one block, the practice block or the game, in order."""
    return list(Trial.objects.filter(participant=participant, practice=practice).order_by("index"))
