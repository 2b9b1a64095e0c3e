"""Whole games, resume, duplicates, bad messages and second tabs over the real websocket."""

import json
from datetime import timedelta

import pytest
import torch
from channels.db import database_sync_to_async
from django.utils import timezone

from helpers import GAMES, SMALL_PARAMS, choose, connect, make_player, make_study, scripted_choice
from shaping_core.games import make_game
from webapp.play.models import Trial
from webapp.studies.models import Participant, Study

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


async def play_through(communicator, state, game: str, until: int | None = None):
    """Answer every trial with the scripted choices; returns the result messages."""
    results = []
    current = state["current"]
    while current is not None and (until is None or current["trial"] < until):
        choice = scripted_choice(game, current["trial"])
        result = await choose(communicator, current["trial"], choice["choice"], choice["rt_ms"])
        assert result["type"] == "result", result
        assert result["trial"] == current["trial"] and result["duplicate"] is False
        results.append(result)
        current = result["next"]
    return results


def stored_trials(participant):
    return list(Trial.objects.filter(participant=participant).order_by("index"))


@pytest.mark.parametrize("game", GAMES)
async def test_a_whole_game_is_played_and_every_trial_stored(game):
    study = await db(make_study)(game)
    participant = await db(make_player)(study)
    communicator, state = await connect(participant.token)
    assert state["type"] == "state" and state["game"] == game and state["trial"] == 0
    assert state["trials"] == participant.episode_length and state["history"] == []

    results = await play_through(communicator, state, game)
    await communicator.disconnect()

    assert len(results) == participant.episode_length
    assert results[-1]["done"] is True and results[-1]["next"] is None
    assert results[-1]["debrief_url"] == f"/p/{participant.token}/"
    trials = await db(stored_trials)(participant)
    assert [t.index for t in trials] == list(range(participant.episode_length))
    assert all(t.is_complete and t.responded_at >= t.presented_at for t in trials)
    assert results[-1]["points"] == pytest.approx(sum(t.participant_reward for t in trials))
    names = make_game(game, study.game_params).spec.participant_actions
    for trial, result in zip(trials, results, strict=True):
        expected = scripted_choice(game, trial.index)
        if game != "gonogo":  # go/no-go may turn a late response into a withhold; none are late here
            assert names[trial.participant_action] == expected["choice"]
        assert trial.reaction_time_ms == expected["rt_ms"]
        assert result["feedback"]["points"] == trial.participant_reward
    participant = await db(Participant.objects.get)(pk=participant.pk)
    assert participant.status == Participant.Status.COMPLETED and participant.completed_at is not None


@pytest.mark.parametrize("game", GAMES)
async def test_live_play_matches_the_batched_rules_for_the_same_actions(game):
    """DESIGN principle 1: batch-of-one play on the server equals the batched rulebook."""
    study = await db(make_study)(game)
    players = [await db(make_player)(study) for _ in range(3)]
    for participant in players:
        communicator, state = await connect(participant.token)
        await play_through(communicator, state, game)
        await communicator.disconnect()
    stored = [await db(stored_trials)(p) for p in players]

    rules = make_game(game, study.game_params)
    batch = rules.init(len(players), length=torch.tensor([p.episode_length for p in players]))
    for index in range(max(p.episode_length for p in players)):
        p_actions = torch.tensor([trials[index].participant_action for trials in stored])
        a_actions = torch.tensor([trials[index].adversary_action for trials in stored])
        batch, result = rules.step(batch, p_actions, a_actions)
        assert result.adversary_action.tolist() == a_actions.tolist()
        assert result.participant_reward.tolist() == [t[index].participant_reward for t in stored]
        assert result.adversary_reward.tolist() == [t[index].adversary_reward for t in stored]
    assert batch.done.all()


async def test_the_adversary_commits_before_the_participant_moves():
    """In the IPD the open trial's row holds the adversary's action before any choice arrives."""
    study = await db(make_study)("ipd")
    participant = await db(make_player)(study)
    communicator, state = await connect(participant.token)
    open_trials = await db(stored_trials)(participant)
    assert len(open_trials) == 1 and open_trials[0].participant_action is None
    committed = open_trials[0].adversary_action
    await choose(communicator, 0, "D")
    first = (await db(stored_trials)(participant))[0]
    assert first.adversary_action == committed and first.adversary_probs is not None
    # Tit-for-tat: the second trial's committed action copies the participant's first move.
    second = (await db(stored_trials)(participant))[1]
    assert second.participant_action is None and second.adversary_action == 1
    await communicator.disconnect()


async def test_trust_adversary_responds_to_the_investment():
    study = await db(make_study)("trust", conditions=[("half", "fixed_fraction", {"fraction": 0.5}, 1)])
    participant = await db(make_player)(study)
    communicator, state = await connect(participant.token)
    assert await db(stored_trials)(participant) == []  # nothing to commit before the investor moves
    result = await choose(communicator, 0, 10, 1000)
    assert result["feedback"] == {"trial": 0, "invested": 10, "multiplied": 30.0, "returned": 15.0,
                                  "return_fraction": 0.5, "points": 25.0, "other_points": 15.0}
    await communicator.disconnect()


@pytest.mark.parametrize("game", GAMES)
async def test_reconnecting_resumes_at_the_same_trial(game):
    study = await db(make_study)(game)
    participant = await db(make_player)(study)
    communicator, state = await connect(participant.token)
    results = await play_through(communicator, state, game, until=3)
    cue_before = results[-1]["next"]
    await communicator.disconnect()

    communicator, state = await connect(participant.token)
    assert state["trial"] == 3 and len(state["history"]) == 3
    assert state["current"] == cue_before  # same trial, same committed stimulus
    assert state["points"] == pytest.approx(results[-1]["points"])
    assert [h["trial"] for h in state["history"]] == [0, 1, 2]
    rest = await play_through(communicator, state, game)
    assert rest[-1]["done"]
    await communicator.disconnect()
    assert len(await db(stored_trials)(participant)) == participant.episode_length


async def test_a_repeated_submission_is_acknowledged_once_and_recorded_once():
    study = await db(make_study)("ipd")
    participant = await db(make_player)(study)
    communicator, _ = await connect(participant.token)
    first = await choose(communicator, 0, "C")
    again = await choose(communicator, 0, "D")  # late and different: the stored choice stands
    assert first["duplicate"] is False and again["duplicate"] is True
    assert again["feedback"] == first["feedback"] and again["next"]["trial"] == 1
    trials = await db(stored_trials)(participant)
    assert [t.index for t in trials] == [0, 1] and trials[0].participant_action == 0
    await communicator.disconnect()


BAD_MESSAGES = [
    ("not json", "bad_json"),
    ("[1, 2]", "bad_message"),
    ('{"type": "dance"}', "unknown_type"),
    ('{"trial": 0, "choice": "C"}', "unknown_type"),
    ('{"type": "choice", "trial": 5, "choice": "C"}', "wrong_trial"),
    ('{"type": "choice", "trial": -1, "choice": "C"}', "bad_message"),
    ('{"type": "choice", "trial": "0", "choice": "C"}', "bad_message"),
    ('{"type": "choice", "trial": 0, "choice": "X"}', "invalid_choice"),
    ('{"type": "choice", "trial": 0, "choice": 2}', "invalid_choice"),
    ('{"type": "choice", "trial": 0, "choice": "C", "rt_ms": -3}', "bad_message"),
    ('{"type": "choice", "trial": 0, "choice": "C", "rt_ms": "fast"}', "bad_message"),
    ('{"type": "choice", "trial": 0, "choice": "C", "extra": 1}', "bad_message"),
    ('{"type": "sync", "extra": 1}', "bad_message"),
    (json.dumps({"type": "choice", "trial": 0, "choice": "C", "pad": "x" * 5000}), "too_large"),
]


async def test_bad_messages_get_a_named_error_and_change_nothing():
    study = await db(make_study)("ipd")
    participant = await db(make_player)(study)
    communicator, _ = await connect(participant.token)
    for text, code in BAD_MESSAGES:
        await communicator.send_to(text_data=text)
        reply = await communicator.receive_json_from(timeout=5)
        assert reply["type"] == "error" and reply["code"] == code, (text, reply)
        assert reply["message"]
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert (await communicator.receive_json_from(timeout=5))["code"] == "bad_json"
    wrong = await choose(communicator, 3, "C")
    assert wrong["expected_trial"] == 0

    trials = await db(stored_trials)(participant)
    assert len(trials) == 1 and trials[0].participant_action is None  # only the open trial
    assert (await choose(communicator, 0, "C"))["type"] == "result"  # still playable
    await communicator.disconnect()


async def test_go_nogo_late_response_counts_as_omission_and_needs_a_reaction_time():
    study = await db(make_study)("gonogo", params={"trials": 12, "nogo_trials": 0, "response_window_ms": 750})
    participant = await db(make_player)(study)
    communicator, state = await connect(participant.token)
    assert state["current"]["cue"] == {"stimulus": "go"}
    missing_rt = await choose(communicator, 0, "respond", None)
    assert missing_rt["code"] == "invalid_choice"
    late = await choose(communicator, 0, "respond", 900)
    assert late["feedback"]["your_choice"] == "withhold" and late["feedback"]["correct"] is False
    trial = (await db(stored_trials)(participant))[0]
    assert trial.participant_action == 0 and trial.reaction_time_ms == 900 and trial.adversary_reward == 1.0
    await communicator.disconnect()


async def test_bandit_feedback_never_reveals_the_unchosen_option():
    study = await db(make_study)("bandit")
    participant = await db(make_player)(study)
    communicator, state = await connect(participant.token)
    assert state["current"]["cue"] == {}  # the reward assignment stays hidden
    result = await choose(communicator, 0, "option1", 450)
    assert set(result["feedback"]) == {"trial", "your_choice", "points"}
    await communicator.disconnect()


async def test_a_second_tab_follows_and_cannot_record_twice():
    study = await db(make_study)("ipd")
    participant = await db(make_player)(study)
    tab_a, _ = await connect(participant.token)
    tab_b, _ = await connect(participant.token)
    # Tab A answers tab B's opening, and B redraws then: from here on A tells B of its moves.
    redraw = await tab_b.receive_json_from(timeout=5)
    assert redraw["type"] == "state" and redraw["trial"] == 0
    result = await choose(tab_a, 0, "C")
    assert result["type"] == "result"
    update = await tab_b.receive_json_from(timeout=5)
    assert update["type"] == "state" and update["trial"] == 1
    stale = await choose(tab_b, 0, "D")
    assert stale["duplicate"] is True and stale["feedback"]["your_choice"] == "C"
    assert (await choose(tab_b, 1, "D"))["duplicate"] is False
    assert (await tab_a.receive_json_from(timeout=5))["trial"] == 2  # tab A hears about it
    await tab_a.disconnect()
    await tab_b.disconnect()
    assert len([t for t in await db(stored_trials)(participant) if t.is_complete]) == 2


def count_group_sends(monkeypatch) -> list[str]:
    """The type of every message sent to a group, counted at the channel layer in use (in memory,
    or Redis with REDIS_URL)."""
    from channels.layers import get_channel_layer

    layer = type(get_channel_layer())
    sent, group_send = [], layer.group_send

    async def counted(self, group, message):
        sent.append(message["type"])
        await group_send(self, group, message)

    monkeypatch.setattr(layer, "group_send", counted)
    return sent


async def test_one_tab_sends_nothing_through_the_channel_layer_per_move(monkeypatch):
    sent = count_group_sends(monkeypatch)
    study = await db(make_study)("ipd")
    participant = await db(make_player)(study)
    tab, _ = await connect(participant.token)
    for trial in range(SMALL_PARAMS["ipd"]["rounds"]):
        assert (await choose(tab, trial, "C"))["type"] == "result"
    await tab.disconnect()
    assert sent == ["tab.opened"]  # its opening, and nothing per move or at its close


async def test_a_closed_tab_is_told_of_no_more(monkeypatch):
    sent = count_group_sends(monkeypatch)
    study = await db(make_study)("ipd")
    participant = await db(make_player)(study)
    tab_a, _ = await connect(participant.token)
    tab_b, _ = await connect(participant.token)
    await tab_b.receive_json_from(timeout=5)  # A has answered B's opening
    assert (await choose(tab_a, 0, "C"))["type"] == "result"
    assert (await tab_b.receive_json_from(timeout=5))["trial"] == 1
    await tab_b.disconnect()
    assert sent == ["tab.opened", "tab.opened", "trial.recorded", "tab.closed"]
    # Tab A heard of the close before its next move: a consumer handles one message at a time, and
    # the close was sent before this choice.
    await tab_a.send_json_to({"type": "sync"})
    assert (await tab_a.receive_json_from(timeout=5))["type"] == "state"
    assert (await choose(tab_a, 1, "C"))["type"] == "result"
    assert sent == ["tab.opened", "tab.opened", "trial.recorded", "tab.closed"]
    await tab_a.disconnect()


async def test_unknown_token_is_refused():
    communicator, _ = await connect("not-a-real-token", expect_state=False)
    output = await communicator.receive_output(timeout=5)
    assert output == {"type": "websocket.close", "code": 4404}


async def test_a_participant_who_has_not_started_cannot_play():
    from webapp.studies.services import ExternalIds, participant_join

    study = await db(make_study)("ipd")
    participant, _ = await db(participant_join)(study=study, external=ExternalIds())
    communicator, state = await connect(participant.token)
    assert state["type"] == "error" and state["code"] == "wrong_phase"
    assert (await communicator.receive_output(timeout=5))["type"] == "websocket.close"
    assert await db(stored_trials)(participant) == []


async def test_after_the_last_trial_the_game_is_over():
    study = await db(make_study)("trust", params={"rounds": 1})
    participant = await db(make_player)(study)
    communicator, _ = await connect(participant.token)
    assert (await choose(communicator, 0, 5))["done"] is True
    assert (await choose(communicator, 1, 5))["code"] == "game_over"
    assert (await choose(communicator, 0, 9))["duplicate"] is True
    await communicator.disconnect()
    communicator, state = await connect(participant.token)
    assert state["done"] is True and state["current"] is None and state["debrief_url"]
    await communicator.disconnect()


# ---- time limits and Close, on the websocket ------------------------------------------------------


def _age_last_seen(participant, minutes):
    Participant.objects.filter(pk=participant.pk).update(last_seen_at=timezone.now() - timedelta(minutes=minutes))


async def _refused(communicator, code):
    """The connection answers with the error `code` (no expected trial), then closes with 4409."""
    error = await communicator.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == code and error["expected_trial"] is None, error
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4409}


async def test_a_move_after_the_idle_limit_times_the_participant_out_and_records_nothing():
    study = await db(make_study)("ipd", idle_time_limit_minutes=10)
    participant = await db(make_player)(study)
    communicator, _ = await connect(participant.token)
    assert (await choose(communicator, 0, "C"))["type"] == "result"
    await db(_age_last_seen)(participant, 11)
    await communicator.send_json_to({"type": "choice", "trial": 1, "choice": "D", "rt_ms": 500})
    await _refused(communicator, "timed_out")
    stored = await db(Participant.objects.get)(pk=participant.pk)
    assert stored.status == Participant.Status.TIMED_OUT and stored.ended_at is not None
    trials = await db(stored_trials)(participant)
    assert [t.is_complete for t in trials] == [True, False]  # trial 1 stays open, unanswered

    communicator, _ = await connect(participant.token, expect_state=False)  # and so does a reconnect
    await _refused(communicator, "timed_out")


async def test_a_connection_after_the_idle_limit_is_refused_and_the_ending_kept():
    study = await db(make_study)("ipd", idle_time_limit_minutes=10)
    participant = await db(make_player)(study)
    await db(_age_last_seen)(participant, 11)
    communicator, _ = await connect(participant.token, expect_state=False)
    await _refused(communicator, "timed_out")
    assert (await db(Participant.objects.get)(pk=participant.pk)).status == Participant.Status.TIMED_OUT


async def test_a_game_goes_on_within_the_close_grace_and_ends_after_it():
    from webapp.studies.services import study_set_status

    study = await db(make_study)("ipd", close_grace_minutes=5)
    participant = await db(make_player)(study)
    communicator, _ = await connect(participant.token)
    study = await db(study_set_status)(study=study, action="close")
    assert (await choose(communicator, 0, "C"))["type"] == "result"  # within the grace period
    await db(Study.objects.filter(pk=study.pk).update)(closed_at=study.closed_at - timedelta(minutes=5))
    await communicator.send_json_to({"type": "choice", "trial": 1, "choice": "C", "rt_ms": 500})
    await _refused(communicator, "study_closed")
    stored = await db(Participant.objects.get)(pk=participant.pk)
    assert stored.status == Participant.Status.ENDED_AT_CLOSE and stored.ended_at is not None
    assert len([t for t in await db(stored_trials)(participant) if t.is_complete]) == 1


# ---- nothing private reaches the participant -------------------------------------------------------


async def _every_message(game, params):
    """Every message of a whole game, with a reconnect (a fresh state) half-way."""
    study = await db(make_study)(game, params=params)
    participant = await db(make_player)(study)
    communicator, state = await connect(participant.token)
    results = await play_through(communicator, state, game, until=2)
    await communicator.disconnect()
    communicator, resumed = await connect(participant.token)
    results += await play_through(communicator, resumed, game)
    await communicator.disconnect()
    return [state, resumed, *results]


PRIVATE = {  # parameters the instructions never tell the participant
    "ipd": {"max_rounds": 73},
    "bandit": {"target_option": 1, "rewards_per_option": 3},
    "gonogo": {"nogo_trials": 3},
    "trust": {},
}


@pytest.mark.parametrize("game", GAMES)
async def test_the_participant_is_sent_only_the_parameters_the_rules_show(game):
    params = {**SMALL_PARAMS[game], **PRIVATE[game]}
    messages = await _every_message(game, params)
    public = make_game(game, params).spec.public_params
    for state in messages[:2]:
        assert set(state["params"]) == set(public)
    for name in PRIVATE[game]:
        assert all(f'"{name}"' not in json.dumps(m) for m in messages), name
    assert all("target" not in json.dumps(m) for m in messages)  # the bandit's target option above all
