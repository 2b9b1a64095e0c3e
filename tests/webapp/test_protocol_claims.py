"""Claims of docs/protocol.md that the play tests do not check on their own: the Origin a client
must send, `rt_ms` left out, which errors say the expected trial, and the example conversation."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from helpers import ROOT, choose, connect, make_player, make_study
from webapp.asgi import application
from webapp.play.models import Trial

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


@pytest.mark.parametrize("headers", [[], [(b"origin", b"http://elsewhere.example")]],
                         ids=["no Origin", "another site's Origin"])
async def test_the_handshake_is_refused_without_an_allowed_origin(headers):
    """Refused before it is accepted: daphne answers such a handshake with HTTP 403."""
    study = await db(make_study)("ipd")
    participant = await db(make_player)(study)
    communicator = WebsocketCommunicator(application, f"/ws/play/{participant.token}/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected is False
    allowed, _ = await connect(participant.token)  # the same token with an allowed Origin plays
    await allowed.disconnect()


async def test_rt_ms_may_be_left_out_and_is_stored_as_unknown():
    study = await db(make_study)("ipd")
    participant = await db(make_player)(study)
    communicator, _ = await connect(participant.token)
    await communicator.send_json_to({"type": "choice", "trial": 0, "choice": "C"})
    result = await communicator.receive_json_from(timeout=5)
    assert result["type"] == "result" and result["duplicate"] is False
    trial = await db(Trial.objects.get)(participant=participant, index=0)
    assert trial.participant_action == 0 and trial.reaction_time_ms is None
    await communicator.disconnect()


async def test_only_wrong_trial_and_a_game_refused_choice_name_the_expected_trial():
    study = await db(make_study)("gonogo", params={"trials": 12, "nogo_trials": 0})
    participant = await db(make_player)(study)
    communicator, _ = await connect(participant.token)
    assert (await choose(communicator, 0, "withhold", None))["type"] == "result"  # now at trial 1

    ahead = await choose(communicator, 5, "respond", 300)
    assert (ahead["code"], ahead["expected_trial"]) == ("wrong_trial", 1)
    no_rt = await choose(communicator, 1, "respond", None)  # the game needs a response's reaction time
    assert (no_rt["code"], no_rt["expected_trial"]) == ("invalid_choice", 1)
    unknown = await choose(communicator, 1, "jump", 300)  # refused by the parser, before the game
    assert (unknown["code"], unknown["expected_trial"]) == ("invalid_choice", None)
    await communicator.send_to(text_data='{"type": "choice", "trial": 1, "choice": "respond", "rt_ms": "x"}')
    assert (await communicator.receive_json_from(timeout=5))["expected_trial"] is None
    await communicator.disconnect()


async def test_the_last_trial_sent_again_after_the_end_is_a_duplicate_not_game_over():
    study = await db(make_study)("ipd", params={"rounds": 2})
    participant = await db(make_player)(study)
    communicator, _ = await connect(participant.token)
    assert (await choose(communicator, 0, "C", 400))["done"] is False
    last = await choose(communicator, 1, "D", 400)
    assert last["done"] is True and last["duplicate"] is False
    again = await choose(communicator, 1, "C", 400)
    assert (again["type"], again["duplicate"], again["done"]) == ("result", True, True)
    assert again["feedback"] == last["feedback"]  # the stored outcome, not the new choice
    beyond = await choose(communicator, 2, "C", 400)
    assert (beyond["code"], beyond["expected_trial"]) == ("game_over", None)
    await communicator.disconnect()


def _example_transcript() -> list[tuple[str, dict]]:
    """The example conversation of docs/protocol.md: (direction, message) pairs, "→" client to server."""
    text = (ROOT / "docs" / "protocol.md").read_text()
    block = text.split("## Example", 1)[1].split("```", 2)[1]
    return [(line[0], json.loads(line[2:])) for line in block.strip().splitlines()]


async def test_the_documented_example_is_what_the_server_says():
    """Replays the client's side of the example and compares every server message, word for word."""
    study = await db(make_study)("ipd", params={"rounds": 3},
                                 conditions=[("tft", "tit_for_tat", {}, 1)])
    participant = await db(make_player)(study)
    transcript = _example_transcript()
    assert transcript[0][0] == "←"
    communicator, state = await connect(participant.token)
    replies = [state]
    for direction, message in transcript[1:]:
        if direction == "→":
            await communicator.send_json_to(message)
            replies.append(await communicator.receive_json_from(timeout=5))
    await communicator.disconnect()
    documented = [json.loads(json.dumps(m).replace("TOKEN", participant.token))
                  for d, m in transcript if d == "←"]
    assert replies == documented
