"""Helpers shared by the webapp tests: small studies of every game, participants at any step, and
the live-play websocket through the real ASGI application."""

import itertools

from channels.testing import WebsocketCommunicator

# Small games so whole games finish in milliseconds.
SMALL_PARAMS = {
    "ipd": {"rounds": 5},
    "bandit": {"trials": 12, "rewards_per_option": 3},
    "gonogo": {"trials": 12, "nogo_trials": 3},
    "trust": {"rounds": 4},
}
ADVERSARY = {"ipd": "tit_for_tat", "bandit": "random_schedule", "gonogo": "random_schedule",
             "trust": "random_repayment"}
GAMES = list(SMALL_PARAMS)

_slugs = itertools.count()


def make_study(game="ipd", params=None, conditions=None, status="live", cap=None, **fields):
    """A study with conditions [(name, adversary, params, weight)], launched unless status='draft'."""
    from webapp.studies.models import Condition, Study
    from webapp.studies.services import study_set_status

    study = Study(name=f"Test {game}", slug=f"test-{game}-{next(_slugs)}", game=game,
                  game_params=SMALL_PARAMS[game] if params is None else params,
                  participant_cap_per_condition=cap, completion_code="CODE-123", **fields)
    study.full_clean()
    study.save()
    for name, adversary, adversary_params, weight in conditions or [("main", ADVERSARY[game], {}, 1)]:
        condition = Condition(study=study, name=name, adversary=adversary, adversary_params=adversary_params,
                              weight=weight)
        condition.full_clean()
        condition.save()
    if status in ("live", "paused", "closed"):
        study_set_status(study=study, action="launch")
    if status in ("paused", "closed"):
        study_set_status(study=study, action=status.replace("paused", "pause").replace("closed", "close"))
    study.refresh_from_db()
    return study


def make_player(study, external_id=""):
    """A participant who has consented and passed the comprehension check."""
    from webapp.studies.services import (ExternalIds, participant_answer_comprehension, participant_consent,
                                         participant_join)

    participant, _ = participant_join(study=study, external=ExternalIds(participant=external_id))
    participant_consent(participant=participant, agreed=True)
    answers = {i: q["answer"] for i, q in enumerate(study.comprehension_questions)}
    assert participant_answer_comprehension(participant=participant, answers=answers) == []
    participant.refresh_from_db()
    return participant


def scripted_choice(game: str, trial: int) -> dict:
    """A deterministic, varied participant choice for each game (a choice message's fields)."""
    if game == "ipd":
        return {"choice": "D" if trial % 3 == 2 else "C", "rt_ms": 400.0 + trial}
    if game == "bandit":
        return {"choice": f"option{trial % 2}", "rt_ms": 500.0}
    if game == "gonogo":
        return {"choice": "respond", "rt_ms": 300.0} if trial % 2 else {"choice": "withhold", "rt_ms": None}
    return {"choice": str((trial * 7) % 21), "rt_ms": 900.0}


async def connect(token: str, expect_state: bool = True):
    """Open the play websocket the way a browser does (with an Origin header)."""
    from webapp.asgi import application

    communicator = WebsocketCommunicator(application, f"/ws/play/{token}/",
                                         headers=[(b"origin", b"http://testserver")])
    connected, _ = await communicator.connect()
    assert connected
    state = await communicator.receive_json_from(timeout=5) if expect_state else None
    return communicator, state


async def choose(communicator, trial: int, choice, rt_ms=None):
    await communicator.send_json_to({"type": "choice", "trial": trial, "choice": choice, "rt_ms": rt_ms})
    return await communicator.receive_json_from(timeout=5)
