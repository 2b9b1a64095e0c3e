"""The websocket protocol: parsing what clients send, building what the server sends.

docs/protocol.md is the reference for third-party clients; keep the two in step.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from shaping_core.games import Game

from .engine import LiveGame
from .models import Trial

MAX_MESSAGE_BYTES = 4096
MAX_REACTION_TIME_MS = 3_600_000


class ProtocolError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class ChoiceMessage:
    trial: int
    action: int
    reaction_time_ms: float | None
    practice: bool  # a trial of the practice block, not of the game


def parse(text: str | None, game: Game) -> ChoiceMessage | str:
    """A ChoiceMessage, or the name of a message type without payload ("sync")."""
    if text is None:
        raise ProtocolError("bad_json", "messages must be JSON text frames")
    if len(text.encode()) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"messages must be at most {MAX_MESSAGE_BYTES} bytes")
    try:
        message = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ProtocolError("bad_json", "the message is not valid JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("bad_message", "a message must be a JSON object")
    kind = message.get("type")
    if kind == "sync":
        _check_fields(message, {"type"})
        return "sync"
    if kind != "choice":
        raise ProtocolError("unknown_type", f"unknown message type {kind!r}; expected 'choice' or 'sync'")
    return _parse_choice(message, game)


def _check_fields(message: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(message) - allowed)
    if unknown:
        raise ProtocolError("bad_message", f"unknown field(s) {', '.join(unknown)}")


def _parse_choice(message: dict[str, Any], game: Game) -> ChoiceMessage:
    _check_fields(message, {"type", "trial", "choice", "rt_ms", "practice"})
    trial = message.get("trial")
    if isinstance(trial, bool) or not isinstance(trial, int) or trial < 0:
        raise ProtocolError("bad_message", "'trial' must be a non-negative integer")
    practice = message.get("practice", False)
    if not isinstance(practice, bool):
        raise ProtocolError("bad_message", "'practice' must be true or false")
    actions = game.spec.participant_actions
    choice = message.get("choice")
    name = str(choice) if isinstance(choice, int) and not isinstance(choice, bool) else choice
    if not isinstance(name, str) or name not in actions:
        shown = ", ".join(actions) if len(actions) <= 5 else f"{actions[0]}..{actions[-1]}"
        raise ProtocolError("invalid_choice", f"'choice' must be one of {shown}, got {choice!r}")
    rt = message.get("rt_ms")
    if rt is not None and (isinstance(rt, bool) or not isinstance(rt, (int, float)) or not math.isfinite(rt)
                           or not 0 <= rt <= MAX_REACTION_TIME_MS):
        raise ProtocolError("bad_message", f"'rt_ms' must be a number of milliseconds in 0..{MAX_REACTION_TIME_MS}")
    return ChoiceMessage(trial=trial, action=actions.index(name), reaction_time_ms=rt, practice=practice)


def error(code: str, message: str, expected_trial: int | None = None) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "expected_trial": expected_trial}


def _feedback(game: Game, trial: Trial) -> dict[str, Any]:
    return {"trial": trial.index, **game.participant_feedback(
        trial.participant_action, trial.adversary_action, trial.participant_reward, trial.adversary_reward)}


def _current(live: LiveGame, open_trial: Trial | None) -> dict[str, Any] | None:
    """The trial the participant should answer now, with the cue they may see."""
    if live.done:
        return None
    cue = live.game.participant_cue(open_trial.adversary_action) if open_trial else {}
    return {"trial": live.trial_index, "practice": live.practice, "cue": cue}


def _points(live: LiveGame) -> float:
    """The participant's points: the game's only, so none while the practice block is played."""
    return 0.0 if live.practice else live.participant_points


def state(game: Game, live: LiveGame, trials: list[Trial], screen_order: list[int], debrief_url: str, *,
          practice_trials: int, break_every: int) -> dict[str, Any]:
    """Everything a client needs to draw the game from scratch (on connect, resync, other tab).

    `game` is the participant's game, `live` the block in play (the practice block or the game)
    and `trials` that block's rows. Of the game's parameters only those the participant is told
    are sent (`GameSpec.public_params`): never, say, the bandit's target option.
    """
    completed = [t for t in trials if t.is_complete]
    open_trial = next((t for t in trials if not t.is_complete), None)
    return {
        "type": "state",
        "game": game.spec.name,
        "turn_order": game.spec.turn_order.value,
        "actions": list(game.spec.participant_actions),
        "screen_order": screen_order,
        "params": game.params_for_participant(),
        "trials": game.announced_length,
        "practice_trials": practice_trials,
        "break_every": break_every,
        "trial": 0 if live.practice else live.trial_index,
        "done": live.done,
        "points": _points(live),
        "history": [] if live.practice else [_feedback(game, t) for t in completed],
        "current": _current(live, open_trial),
        "debrief_url": debrief_url if live.done else None,
    }


def result(live: LiveGame, trial: Trial, duplicate: bool, open_trial: Trial | None,
           debrief_url: str) -> dict[str, Any]:
    """The answer to a choice. `live` is the block in play after it: the game, once the last
    practice trial is answered (a practice game has the game's rules, so its feedback reads alike)."""
    return {
        "type": "result",
        "trial": trial.index,
        "practice": trial.practice,
        "duplicate": duplicate,
        "feedback": _feedback(live.game, trial),
        "points": _points(live),
        "done": live.done,
        "next": _current(live, open_trial),
        "debrief_url": debrief_url if live.done else None,
    }

