"""The bot's per-game logic, in one place: what a participant model sees, read from the protocol's
messages, and how the action it picks becomes a `choice` message.

A bot knows only what a person at the browser knows (docs/protocol.md). Its view of trial t must
still equal `shaping_core.participants.participant_view` of the server's game state, so that a
learner plays the live platform exactly as it plays in simulation; tests/webapp/test_bots.py checks
this against the rulebook for every game. The view is rebuilt from three things the protocol gives:

- the previous trial's `feedback` (own move, own points, and the adversary's move where the game
  shows it: the IPD's `other_choice`, the trust game's `return_fraction`, go/no-go's `stimulus`);
- the current trial's `cue` (go/no-go's stimulus, shown before choosing);
- the trial index.

Nothing is read from the page or the database: the game is rebuilt from the `state` message's
`game` and `params`, the same parameters the server plays with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from shaping_core.games import Game, Sight, make_game
from shaping_core.participants import ParticipantView

# Reaction times the bot reports. In games with a response window (go/no-go) the game scores it:
# a quick press, drawn around a typical human go RT and kept inside the window, so that a response
# chosen by the model is recorded as one, not turned into an omission by an unlucky draw.
TIMED_RT_MEAN_MS, TIMED_RT_SD_MS, TIMED_RT_MIN_MS = 350.0, 60.0, 150.0
# Elsewhere the RT is only recorded: a deliberate choice, log-normal around 800 ms.
CHOICE_RT_MEDIAN_MS, CHOICE_RT_LOG_SD = 800.0, 0.35


class ProtocolMismatch(Exception):
    """The server's messages disagree with the game the bot rebuilt from them."""


def game_from_state(state: Mapping[str, Any]) -> Game:
    """The game the server plays, from a `state` message."""
    game = make_game(state["game"], state["params"])
    if list(game.spec.participant_actions) != list(state["actions"]):
        raise ProtocolMismatch(f"the server's actions {state['actions']} are not the rulebook's "
                               f"{list(game.spec.participant_actions)} for these parameters")
    return game


# --- reading feedback ---------------------------------------------------------------------------

def cue_action(game: Game, cue: Mapping[str, Any]) -> int:
    """The adversary's move of the current trial shown before choosing (go/no-go), else -1."""
    if game.spec.participant_sees is Sight.CUE:
        return game.spec.adversary_actions.index(cue["stimulus"])
    return -1


def view(game: Game, trial: int, previous: Mapping[str, Any] | None,
         cue: Mapping[str, Any]) -> ParticipantView:
    """The batch-of-one view for choosing `trial`, given the previous trial's feedback (None
    before the first trial) and this trial's cue. Mirrors participant_view field by field."""
    sight = game.spec.participant_sees
    if previous is None:
        last_action, last_reward, last_seen = -1, 0.0, -1
    else:
        last_action, shown = game.read_feedback(previous)
        last_reward = float(previous["points"])
        last_seen = -1 if sight is Sight.NOTHING else shown
    return ParticipantView(
        trial=torch.tensor([trial]),
        last_action=torch.tensor([last_action]),
        last_reward=torch.tensor([last_reward]),
        last_seen=torch.tensor([last_seen]),
        cue=torch.tensor([cue_action(game, cue)]),
        context=game.participant_context(torch.tensor([trial])),
    )


# --- encoding a move ------------------------------------------------------------------------------

def sample_action(probs: torch.Tensor, generator: torch.Generator) -> int:
    """One action index from a model's [1, n_actions] probabilities."""
    return int(torch.multinomial(probs.detach().float().cpu(), 1, generator=generator)[0, 0])


def choice_fields(game: Game, action: int, generator: torch.Generator) -> dict[str, Any]:
    """The `choice` and `rt_ms` fields of a choice message for an action index.

    Choices go by name, as the browser sends them; the trust game's names are the amounts
    "0".."endowment", so its investment is the action index itself. The game's no-response action
    (go/no-go's withhold) is what the browser sends when the response window runs out, with rt_ms
    null.
    """
    name = game.spec.participant_actions[action]
    if action == game.no_response_action:
        return {"choice": name, "rt_ms": None}
    window = game.response_window_ms
    if window is not None:
        rt = TIMED_RT_MEAN_MS + TIMED_RT_SD_MS * _normal(generator)
        return {"choice": name, "rt_ms": round(min(max(rt, TIMED_RT_MIN_MS), window - 1.0), 1)}
    rt = CHOICE_RT_MEDIAN_MS * math.exp(CHOICE_RT_LOG_SD * _normal(generator))
    return {"choice": name, "rt_ms": round(rt, 1)}


def _normal(generator: torch.Generator) -> float:
    return float(torch.randn(1, generator=generator)[0])
