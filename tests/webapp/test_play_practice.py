"""The practice block before a go/no-go game, and breaks: over the real websocket."""

import pytest
from channels.db import database_sync_to_async

from helpers import GAMES, SMALL_PARAMS, choose, connect, make_player, make_study, scripted_choice
from shaping_core.games import make_game
from webapp.play.models import Trial
from webapp.play.services import live_game_load
from webapp.studies.models import Participant

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async

PRACTICE = 4
GAME_TRIALS = SMALL_PARAMS["gonogo"]["trials"]


def right_answer(cue):
    """The correct response to a go/no-go cue."""
    return ("respond", 300.0) if cue["stimulus"] == "go" else ("withhold", None)


async def answer_practice(communicator, current):
    """Answer every practice trial correctly; returns the results."""
    results = []
    while current["practice"]:
        choice, rt = right_answer(current["cue"])
        await communicator.send_json_to({"type": "choice", "trial": current["trial"], "choice": choice,
                                         "rt_ms": rt, "practice": True})
        result = await communicator.receive_json_from(timeout=5)
        assert result["type"] == "result" and result["practice"] is True, result
        results.append(result)
        current = result["next"]
    return results


async def play_game(communicator, current):
    results = []
    while current is not None:
        assert current["practice"] is False
        choice = scripted_choice("gonogo", current["trial"])
        results.append(await choose(communicator, current["trial"], choice["choice"], choice["rt_ms"]))
        current = results[-1]["next"]
    return results


def trials_of(participant, practice):
    return list(Trial.objects.filter(participant=participant, practice=practice).order_by("index"))


async def test_the_practice_block_comes_first_earns_nothing_and_is_stored_apart():
    study = await db(make_study)("gonogo", practice_trials=PRACTICE)
    participant = await db(make_player)(study)
    communicator, state = await connect(participant.token)
    assert state["practice_trials"] == PRACTICE and state["trials"] == GAME_TRIALS
    assert state["current"]["practice"] is True and state["current"]["trial"] == 0
    assert state["current"]["cue"]["stimulus"] in ("go", "nogo")
    assert state["trial"] == 0 and state["points"] == 0 and state["history"] == []

    practice = await answer_practice(communicator, state["current"])
    assert [r["trial"] for r in practice] == list(range(PRACTICE))
    assert all(r["feedback"]["correct"] for r in practice)  # feedback, as in the game
    assert all(r["points"] == 0 and r["done"] is False for r in practice)  # but no points
    assert practice[-1]["next"]["practice"] is False and practice[-1]["next"]["trial"] == 0

    results = await play_game(communicator, practice[-1]["next"])
    await communicator.disconnect()
    assert results[-1]["done"] is True and all(r["practice"] is False for r in results)

    practice_rows = await db(trials_of)(participant, True)
    game_rows = await db(trials_of)(participant, False)
    assert [t.index for t in practice_rows] == list(range(PRACTICE))
    assert [t.index for t in game_rows] == list(range(GAME_TRIALS))
    assert all(t.is_complete for t in practice_rows + game_rows)
    # The practice game keeps the game's share of no-go trials (3 in 12: 1 in 4).
    assert [t.adversary_action for t in practice_rows].count(1) == 1
    assert [t.adversary_action for t in game_rows].count(1) == SMALL_PARAMS["gonogo"]["nogo_trials"]
    assert results[-1]["points"] == sum(t.participant_reward for t in game_rows)
    live = await db(live_game_load)(participant=participant)  # the game is rebuilt from its own rows
    assert live.done and live.participant_points == results[-1]["points"]
    assert (await db(Participant.objects.get)(pk=participant.pk)).status == Participant.Status.COMPLETED


async def test_reconnecting_resumes_inside_the_practice_block_and_after_it():
    study = await db(make_study)("gonogo", practice_trials=PRACTICE)
    participant = await db(make_player)(study)
    communicator, state = await connect(participant.token)
    choice, rt = right_answer(state["current"]["cue"])
    await communicator.send_json_to({"type": "choice", "trial": 0, "choice": choice, "rt_ms": rt, "practice": True})
    first = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()

    communicator, state = await connect(participant.token)
    assert state["current"] == first["next"]  # practice trial 1, with its committed stimulus
    practice = await answer_practice(communicator, state["current"])
    await communicator.disconnect()

    communicator, state = await connect(participant.token)
    assert state["current"] == practice[-1]["next"] and state["current"]["practice"] is False
    assert state["practice_trials"] == PRACTICE and state["trial"] == 0 and state["history"] == []
    await communicator.disconnect()
    assert len(await db(trials_of)(participant, True)) == PRACTICE


async def test_a_practice_choice_is_never_taken_for_a_trial_of_the_game():
    study = await db(make_study)("gonogo", practice_trials=PRACTICE)
    participant = await db(make_player)(study)
    communicator, state = await connect(participant.token)
    early = await choose(communicator, 0, "withhold")  # the game's trial 0, while practice trial 0 is open
    assert early["code"] == "wrong_trial" and early["expected_trial"] == 0
    assert "practice trial 0" in early["message"]
    await communicator.send_json_to({"type": "choice", "trial": 0, "choice": "withhold", "practice": "yes"})
    assert (await communicator.receive_json_from(timeout=5))["code"] == "bad_message"
    assert await db(trials_of)(participant, False) == []

    practice = await answer_practice(communicator, state["current"])
    # A late practice choice, after the game began: the stored practice trial, recorded once.
    await communicator.send_json_to({"type": "choice", "trial": PRACTICE - 1, "choice": "withhold",
                                     "rt_ms": None, "practice": True})
    late = await communicator.receive_json_from(timeout=5)
    assert late["duplicate"] is True and late["practice"] is True
    assert late["feedback"] == practice[-1]["feedback"] and late["next"] == practice[-1]["next"]
    await communicator.send_json_to({"type": "choice", "trial": PRACTICE, "choice": "withhold", "practice": True})
    assert (await communicator.receive_json_from(timeout=5))["code"] == "wrong_trial"
    game_rows = await db(trials_of)(participant, False)
    assert len(game_rows) == 1 and not game_rows[0].is_complete  # only the game's open first trial
    await communicator.disconnect()


def _same_seed(*participants):
    Participant.objects.filter(pk__in=[p.pk for p in participants]).update(seed=participants[0].seed)


async def test_the_games_adversary_never_sees_the_practice():
    """With the same seed and the same choices, the game's trials are the same with or without a
    practice block before them: the adversary's memory and draws start afresh at the game."""
    with_practice = await db(make_player)(await db(make_study)("gonogo", practice_trials=PRACTICE))
    without = await db(make_player)(await db(make_study)("gonogo"))
    await db(_same_seed)(with_practice, without)
    for participant in (with_practice, without):
        communicator, state = await connect(participant.token)
        await play_game(communicator, (await answer_practice(communicator, state["current"]))[-1]["next"]
                        if state["current"]["practice"] else state["current"])
        await communicator.disconnect()
    played = [await db(trials_of)(p, False) for p in (with_practice, without)]
    assert [(t.adversary_action, t.adversary_probs) for t in played[0]] == \
        [(t.adversary_action, t.adversary_probs) for t in played[1]]


@pytest.mark.parametrize("game", [g for g in GAMES if g != "gonogo"])
async def test_games_without_a_practice_block_ignore_the_setting(game):
    """The study form refuses the setting for these games (test_admin.py); a study saved with it
    anyway (written around the form) still plays no practice."""
    assert make_game(game).practice_game(PRACTICE) is None
    study = await db(make_study)(game)
    await db(type(study).objects.filter(pk=study.pk).update)(practice_trials=PRACTICE)
    await db(study.refresh_from_db)()
    participant = await db(make_player)(study)
    communicator, state = await connect(participant.token)
    assert state["practice_trials"] == 0 and state["current"]["practice"] is False
    choice = scripted_choice(game, 0)
    result = await choose(communicator, 0, choice["choice"], choice["rt_ms"])
    assert result["practice"] is False and result["duplicate"] is False
    await communicator.disconnect()
    assert await db(trials_of)(participant, True) == []


async def test_the_state_says_how_often_to_offer_a_break():
    for every in (0, 5):
        study = await db(make_study)("gonogo", break_every_trials=every)
        communicator, state = await connect((await db(make_player)(study)).token)
        assert state["break_every"] == every
        await communicator.disconnect()


@pytest.mark.parametrize("n_trials, nogo", [(1, 0), (2, 1), (4, 1), (10, 1), (20, 2), (40, 4)])
def test_the_go_nogo_practice_game_keeps_the_rules_and_the_share_of_nogo_trials(n_trials, nogo):
    game = make_game("gonogo", {"trials": 350, "nogo_trials": 35, "response_window_ms": 600})
    practice = game.practice_game(n_trials)
    assert (practice.params.trials, practice.params.nogo_trials) == (n_trials, nogo)
    assert practice.params.response_window_ms == 600 and practice.spec == game.spec


@pytest.mark.parametrize("nogo_trials, expected", [(0, 0), (10, 3)])
def test_a_go_nogo_practice_game_has_only_the_kinds_of_trial_the_game_has(nogo_trials, expected):
    game = make_game("gonogo", {"trials": 10, "nogo_trials": nogo_trials})
    assert game.practice_game(3).params.nogo_trials == expected
