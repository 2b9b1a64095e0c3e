"""Writes of live play: one transaction per trial (DESIGN.md, principles 4, 5 and 7).

In games where the adversary commits first (simultaneous, adversary-first), the next trial is
*opened* in the same transaction that completes the current one: its row is written with the
adversary's action before the participant can send a choice for it, so the adversary cannot peek.
In participant-first games (trust) the adversary responds inside the transaction that records the
participant's move.

A study may start its game with a practice block (`Study.practice_trials`, in games that have a
practice game): its trials are stored like the game's, flagged `practice`, against the game's
baseline adversary, and the transaction that completes the last of them opens the game's first
trial. A choice names its trial by block and index, so a late practice choice can never be taken
for a trial of the game.

Every write first locks the participant's row and applies the study's time limits and its close
(`ending_due`): a participation that must end ends in that transaction, and the move is refused
with `timed_out` or `study_closed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from shaping_core.policies import make_policy
from webapp.studies.models import Participant
from webapp.studies.services import ending_due

from . import move_sql
from .engine import LiveGame, StoredTrial
from .models import Trial
from .selectors import practice_game, practice_length


class PlayError(Exception):
    """A message that cannot be applied; the game state is untouched."""

    def __init__(self, code: str, message: str, expected_trial: int | None = None):
        super().__init__(message)
        self.code, self.message, self.expected_trial = code, message, expected_trial


class NotPlayable(PlayError):
    """The participant cannot play at all (not started yet, timed out, the study closed): nothing
    they send can be applied, so their connection has nothing more to do."""


@dataclass(frozen=True)
class Submission:
    live: LiveGame  # the block now in play: the practice block, or the game
    trial: Trial  # the trial the choice was for
    duplicate: bool
    open_trial: Trial | None  # the trial now awaiting the participant's choice, if its row exists


PLAYABLE = (Participant.Status.PLAYING, Participant.Status.COMPLETED)
# `last_seen_at` (the Monitor's drop-out count, the idle time limit) is written on a move only when
# this much older: one write fewer on almost every move; the limits are counted in minutes.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
# Practice draws are seeded by the participant's seed with this bit flipped: a stream apart from
# the game's, and as reproducible (participant seeds have 62 bits).
PRACTICE_SEED_BIT = 1 << 61


def play_refusal(participant: Participant) -> NotPlayable | None:
    """Why the participant cannot play, from their status; None when they can."""
    status = participant.status
    if status in PLAYABLE:
        return None
    if status == Participant.Status.TIMED_OUT:
        return NotPlayable("timed_out", "the time limit passed, so this participation has ended")
    if status == Participant.Status.ENDED_AT_CLOSE:
        return NotPlayable("study_closed", "the study has closed, so the game has ended")
    return NotPlayable("wrong_phase", f"the game has not started: the participant is at "
                                      f"'{participant.get_status_display()}'")


def live_game_load(*, participant: Participant) -> LiveGame:
    """Rebuild the participant's game from its completed trials (never the practice block's)."""
    condition = participant.condition
    game = participant.study.make_game()
    completed = Trial.objects.filter(participant=participant, practice=False,
                                     participant_action__isnull=False).order_by("index")
    return LiveGame.replay(game, condition.make_policy(game), seed=participant.seed,
                           length=participant.episode_length, trials=_stored(completed))


def practice_load(*, participant: Participant) -> LiveGame | None:
    """Rebuild the participant's practice block from its completed trials; None when the study has
    no practice block or it is over."""
    game = practice_game(study=participant.study)
    if game is None:
        return None
    completed = list(Trial.objects.filter(participant=participant, practice=True,
                                          participant_action__isnull=False).order_by("index"))
    if len(completed) >= game.max_trials:
        return None
    baseline, baseline_params = game.baseline_adversary
    return LiveGame.replay(game, make_policy(baseline, game, baseline_params),
                           seed=participant.seed ^ PRACTICE_SEED_BIT, length=game.max_trials,
                           trials=_stored(completed), practice=True)


def _stored(trials) -> list[StoredTrial]:
    return [StoredTrial(t.index, t.participant_action, t.adversary_action, t.participant_reward,
                        t.adversary_reward) for t in trials]


def _block_load(participant: Participant) -> LiveGame:
    """The block the participant is in: the practice block until it is over, then the game."""
    return practice_load(participant=participant) or live_game_load(participant=participant)


def play_start(*, participant: Participant) -> LiveGame:
    """Load the block the participant is in and make sure its current trial is open."""
    with transaction.atomic():
        participant = _lock(participant)
        if participant.status in PLAYABLE:
            live = _block_load(participant)
            if not live.done and not live.adversary_moves_after_participant:
                if not Trial.objects.filter(participant=participant, practice=live.practice,
                                            index=live.trial_index).exists():
                    _open_trial(participant, live)
            return live
    # Outside the transaction, so that an ending applied by _lock is kept.
    raise play_refusal(participant)


def trial_submit(*, participant: Participant, live: LiveGame | None, trial_index: int, action: int,
                 reaction_time_ms: float | None, practice: bool = False) -> Submission:
    """Record the participant's choice for trial `trial_index` of the practice block (`practice`)
    or of the game.

    A choice for a trial already recorded (a repeat, a late message, a second tab) changes nothing
    and returns the stored trial with duplicate=True. `live` is the caller's cached block; it is
    rebuilt when it is missing or behind the trial table.
    """
    with transaction.atomic():
        participant = _lock(participant)
        if participant.status in PLAYABLE:
            return _trial_record(participant, live, trial_index, action, reaction_time_ms, practice)
    # Outside the transaction, so that an ending applied by _lock is kept.
    raise play_refusal(participant)


@dataclass(frozen=True)
class _Position:
    """Where a participant's trials stand: the block in play and its current trial."""

    practice: bool  # whether the current trial is a practice trial
    current: int  # the current trial's index in its block (= that block's completed trials)
    open_row: Trial | None  # the current trial's row, when it has been opened
    newest: Trial | None  # the newest row of either block

    def order(self) -> tuple[bool, int]:
        return _order(self.practice, self.current)


def _order(practice: bool, index: int) -> tuple[bool, int]:
    """Sorts trials in the order they are played: the practice block first."""
    return not practice, index


def _name(practice: bool, index: int) -> str:
    return f"{'practice trial' if practice else 'trial'} {index}"


def _position(participant: Participant) -> _Position:
    # Trials are stored in order, one row per index and block, practice first, so the newest row
    # says where the participant is: the open trial (no choice yet), or the last trial completed.
    # One query, on every move.
    newest = move_sql.newest_trial(participant.pk)
    if newest is None:
        return _Position(practice_length(study=participant.study) > 0, 0, None, None)
    open_row = None if newest.is_complete else newest
    current = newest.index + (open_row is None)
    if newest.practice and open_row is None and current >= practice_length(study=participant.study):
        return _Position(False, 0, None, newest)  # the practice is over; the game's first trial is next
    return _Position(newest.practice, current, open_row, newest)


def _trial_record(participant: Participant, live: LiveGame | None, trial_index: int, action: int,
                  reaction_time_ms: float | None, practice: bool) -> Submission:
    position = _position(participant)
    asked = _order(practice, trial_index)
    if asked < position.order():
        stored = Trial.objects.filter(participant=participant, practice=practice, index=trial_index).first()
        if stored is not None:
            return Submission(_current_live(participant, live, position), stored, True, position.open_row)
    if participant.status == Participant.Status.COMPLETED:
        raise PlayError("game_over", "the game is over", None)
    if asked != position.order():
        raise PlayError("wrong_trial", f"{_name(practice, trial_index)} is not open; the current trial is "
                                       f"{_name(position.practice, position.current)}", position.current)
    live = _current_live(participant, live, position)
    try:
        action = live.game.effective_participant_action(action, reaction_time_ms)
    except ValueError as error:
        raise PlayError("invalid_choice", str(error), position.current) from None

    now = timezone.now()
    if live.adversary_moves_after_participant:
        decision = live.decide(action)
        newest = position.newest  # the previous trial here: its answer is when this one was presented
        trial = Trial(participant=participant, practice=live.practice, index=trial_index,
                      adversary_action=decision.adversary_action, adversary_probs=decision.probs,
                      presented_at=newest.responded_at if newest else participant.started_at or now)
    else:
        trial = position.open_row or _open_trial(participant, live)
    outcome = live.advance(action, trial.adversary_action)
    trial.participant_action = action
    trial.participant_reward = outcome.participant_reward
    trial.adversary_reward = outcome.adversary_reward
    trial.reaction_time_ms = reaction_time_ms
    trial.responded_at = now
    if trial.pk is None:
        move_sql.trial_insert(trial)
    else:
        move_sql.trial_complete(trial)

    open_trial = None
    if outcome.done and not live.practice:
        participant.status = Participant.Status.COMPLETED
        participant.completed_at = participant.last_seen_at = now
        participant.save(update_fields=["last_seen_at", "status", "completed_at"])
        return Submission(live, trial, False, None)
    if outcome.done:  # the last practice trial: the game begins
        live = live_game_load(participant=participant)
    if not live.adversary_moves_after_participant:
        open_trial = _open_trial(participant, live)
    if participant.last_seen_at is None or now - participant.last_seen_at >= LAST_SEEN_RESOLUTION:
        participant.last_seen_at = now
        participant.save(update_fields=["last_seen_at"])
    return Submission(live, trial, False, open_trial)


def _current_live(participant: Participant, live: LiveGame | None, position: _Position) -> LiveGame:
    """The caller's cached block when it is where the trial table is, else the block rebuilt."""
    if live is not None and (live.practice, live.trial_index) == (position.practice, position.current):
        return live
    return _block_load(participant)


def _lock(participant: Participant) -> Participant:
    """Lock the participant's row: one writer per participant at a time, across tabs and workers.
    End the participation if the study's time limits or its close say so (`ending_due`, saved in
    the caller's transaction).

    Reads back, in the locking query, only what may have changed since `participant` was loaded
    (its study and condition never change once it has joined, but the study's status and limits
    may), into `participant` itself, and returns it.
    """
    locked = move_sql.participant_lock(participant.pk)
    participant.status, participant.last_seen_at = locked.status, locked.last_seen_at
    now = timezone.now()
    ending = ending_due(participant=participant, study=locked.study, now=now)
    if ending:
        participant.status, participant.ended_at = ending, now
        participant.save(update_fields=["status", "ended_at"])
    return participant


def _open_trial(participant: Participant, live: LiveGame) -> Trial:
    decision = live.decide()
    return move_sql.trial_insert(Trial(participant=participant, practice=live.practice, index=live.trial_index,
                                       adversary_action=decision.adversary_action, adversary_probs=decision.probs,
                                       presented_at=timezone.now()))
