"""Writes of live play: one transaction per trial (DESIGN.md, principles 4, 5 and 7).

In games where the adversary commits first (simultaneous, adversary-first), the next trial is
*opened* in the same transaction that completes the current one: its row is written with the
adversary's action before the participant can send a choice for it, so the adversary cannot peek.
In participant-first games (trust) the adversary responds inside the transaction that records the
participant's move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from webapp.studies.models import Participant

from .engine import LiveGame, StoredTrial
from .models import Trial


class PlayError(Exception):
    """A message that cannot be applied; the game state is untouched."""

    def __init__(self, code: str, message: str, expected_trial: int | None = None):
        super().__init__(message)
        self.code, self.message, self.expected_trial = code, message, expected_trial


@dataclass(frozen=True)
class Submission:
    live: LiveGame
    trial: Trial  # the trial the choice was for
    duplicate: bool
    open_trial: Trial | None  # the trial now awaiting the participant's choice, if its row exists


PLAYABLE = (Participant.Status.PLAYING, Participant.Status.COMPLETED)
# `last_seen_at` (the Monitor's drop-out count) is written on a move only when this much older: one
# write fewer on almost every move, and drop-outs are counted in tens of minutes.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def live_game_load(*, participant: Participant) -> LiveGame:
    """Rebuild the participant's game from their completed trials."""
    condition = participant.condition
    game = participant.study.make_game()
    completed = Trial.objects.filter(participant=participant, participant_action__isnull=False).order_by("index")
    stored = [StoredTrial(t.index, t.participant_action, t.adversary_action, t.participant_reward,
                          t.adversary_reward) for t in completed]
    return LiveGame.replay(game, condition.make_policy(game), seed=participant.seed,
                           length=participant.episode_length, trials=stored)


def play_start(*, participant: Participant) -> LiveGame:
    """Load the participant's game and make sure its current trial is open."""
    with transaction.atomic():
        participant = _lock(participant)
        live = live_game_load(participant=participant)
        if not live.done and not live.adversary_moves_after_participant:
            if not Trial.objects.filter(participant=participant, index=live.trial_index).exists():
                _open_trial(participant, live)
    return live


def trial_submit(*, participant: Participant, live: LiveGame | None, trial_index: int, action: int,
                 reaction_time_ms: float | None) -> Submission:
    """Record the participant's choice for `trial_index`.

    A choice for a trial already recorded (a repeat, a late message, a second tab) changes nothing
    and returns the stored trial with duplicate=True. `live` is the caller's cached game; it is
    rebuilt when it is missing or behind the trial table.
    """
    with transaction.atomic():
        participant = _lock(participant)
        # Trials are stored in order, one row per index, so the newest row says where the game is:
        # the open trial (no choice yet), or the last trial completed. One query, on every move.
        newest = Trial.objects.filter(participant=participant).order_by("-index").first()
        open_row = newest if newest is not None and not newest.is_complete else None
        completed = 0 if newest is None else newest.index + (open_row is None)
        if trial_index < completed:
            return Submission(live or live_game_load(participant=participant),
                              Trial.objects.get(participant=participant, index=trial_index), True, open_row)
        if participant.status == Participant.Status.COMPLETED:
            raise PlayError("game_over", "the game is over", None)
        if trial_index > completed:
            raise PlayError("wrong_trial", f"trial {trial_index} is not open; the current trial is {completed}",
                            completed)
        if live is None or live.trial_index != completed:
            live = live_game_load(participant=participant)
        try:
            action = live.game.effective_participant_action(action, reaction_time_ms)
        except ValueError as error:
            raise PlayError("invalid_choice", str(error), completed) from None

        now = timezone.now()
        if live.adversary_moves_after_participant:
            decision = live.decide(action)
            # `newest` is the previous trial here: its answer is when this one was presented.
            trial = Trial(participant=participant, index=trial_index, adversary_action=decision.adversary_action,
                          adversary_probs=decision.probs,
                          presented_at=newest.responded_at if newest else participant.started_at or now)
        else:
            trial = open_row or _open_trial(participant, live)
        outcome = live.advance(action, trial.adversary_action)
        trial.participant_action = action
        trial.participant_reward = outcome.participant_reward
        trial.adversary_reward = outcome.adversary_reward
        trial.reaction_time_ms = reaction_time_ms
        trial.responded_at = now
        if trial.pk is None:
            trial.save()
        else:
            trial.save(update_fields=["participant_action", "participant_reward", "adversary_reward",
                                      "reaction_time_ms", "responded_at"])

        open_trial = None
        if outcome.done:
            participant.status = Participant.Status.COMPLETED
            participant.completed_at = participant.last_seen_at = now
            participant.save(update_fields=["last_seen_at", "status", "completed_at"])
        else:
            if not live.adversary_moves_after_participant:
                open_trial = _open_trial(participant, live)
            if participant.last_seen_at is None or now - participant.last_seen_at >= LAST_SEEN_RESOLUTION:
                participant.last_seen_at = now
                participant.save(update_fields=["last_seen_at"])
    return Submission(live, trial, False, open_trial)


def _lock(participant: Participant) -> Participant:
    """Lock the participant's row: one writer per participant at a time, across tabs and workers.

    Reads back only what may have changed since `participant` was loaded (its study and condition
    never change once it has joined), into `participant` itself, and returns it.
    """
    participant.status, participant.last_seen_at = (
        Participant.objects.select_for_update().filter(pk=participant.pk)
        .values_list("status", "last_seen_at").get())
    if participant.status not in PLAYABLE:
        raise PlayError("wrong_phase", f"the game has not started: the participant is at "
                                       f"'{participant.get_status_display()}'")
    return participant


def _open_trial(participant: Participant, live: LiveGame) -> Trial:
    decision = live.decide()
    return Trial.objects.create(participant=participant, index=live.trial_index,
                                adversary_action=decision.adversary_action, adversary_probs=decision.probs,
                                presented_at=timezone.now())
