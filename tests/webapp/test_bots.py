"""The bots (webapp/bots): reading the real pages, views and moves per game against the rulebook,
the player's answers to protocol messages (resume included), the runner's summary, and one slow
end-to-end run of `manage.py run_bots` against a real daphne server."""

import json
from decimal import Decimal

import pytest
import torch
from channels.db import database_sync_to_async
from django.test import Client

from helpers import SMALL_PARAMS, LiveServer, connect, make_player, make_study
from shaping_core.games import Sight, TurnOrder, make_game
from shaping_core.participants import ParticipantModel, participant_view
from webapp.bots import BotsSummary, Move, Player, learner_factory
from webapp.bots import moves
from webapp.bots.bot import BotResult
from webapp.bots.pages import read_page
from webapp.play.services import play_start, trial_submit
from webapp.studies.models import Participant

LEARNER = {"ipd": "q_learning", "bandit": "q_learning", "gonogo": "q_learning", "trust": "investor"}


# --- pages: the HTML the real views render ---------------------------------------------------------

def _read(response, url):
    return read_page(url, response.status_code, response.content.decode())


def test_pages_walk_consent_comprehension_play_and_debrief(db):
    study = make_study("ipd", money_per_point=Decimal("0.05"), show_up_fee=Decimal("1.50"))
    client = Client(enforce_csrf_checks=True)  # as strict as a browser's session
    start = _read(client.get(f"/s/{study.slug}/"), f"/s/{study.slug}/")
    assert start.kind == "start" and start.csrf_token and not Participant.objects.exists()
    joined = client.post(f"/s/{study.slug}/", {"csrfmiddlewaretoken": start.csrf_token, "step": "start"},
                         follow=True)
    url = joined.redirect_chain[-1][0]
    assert url.startswith("/p/")

    consent = _read(joined, url)
    assert consent.kind == "consent" and consent.step == "consent" and consent.status == 200
    assert consent.csrf_token and "csrftoken" in client.cookies
    assert consent.questions == {} and consent.ws_path is None and consent.heading

    response = client.post(url, {"csrfmiddlewaretoken": consent.csrf_token, "step": "consent", "agree": "yes"},
                           follow=True)
    instructions = _read(response, url)
    assert instructions.kind == "instructions" and instructions.csrf_token
    questions = study.comprehension_questions
    assert list(instructions.questions) == [f"q{i}" for i in range(len(questions))]
    for i, q in enumerate(questions):
        assert instructions.questions[f"q{i}"] == [str(c) for c in range(len(q["choices"]))]
    assert instructions.invalid == set()

    wrong = {f"q{i}": str((q["answer"] + 1) % len(q["choices"])) for i, q in enumerate(questions)}
    wrong["q0"] = str(questions[0]["answer"])  # only the others are marked
    response = client.post(url, {"csrfmiddlewaretoken": instructions.csrf_token, "step": "comprehension",
                                 **wrong}, follow=True)
    marked = _read(response, url)
    assert response.redirect_chain == [(url, 302)] and marked.kind == "instructions"  # Post/Redirect/Get
    assert marked.invalid == {f"q{i}" for i in range(1, len(questions))}
    assert marked.csrf_token

    right = {f"q{i}": str(q["answer"]) for i, q in enumerate(questions)}
    response = client.post(url, {"csrfmiddlewaretoken": marked.csrf_token, "step": "comprehension", **right},
                           follow=True)
    play = _read(response, url)
    token = url.strip("/").split("/")[-1]
    assert play.kind == "play" and play.ws_path == f"/ws/play/{token}/"

    participant = Participant.objects.get(token=token)
    live = play_start(participant=participant)
    for trial in range(participant.episode_length):
        live = trial_submit(participant=participant, live=live, trial_index=trial, action=trial % 2,
                            reaction_time_ms=500).live
    debrief = _read(client.get(url), url)
    assert debrief.kind == "debrief" and debrief.completion_code == "CODE-123"
    points, bonus, total, currency = debrief.earned()
    stored = sum(t.participant_reward for t in participant.trials.all())
    assert points == stored
    assert bonus == (Decimal(str(stored)) * Decimal("0.05")).quantize(Decimal("0.01"))
    assert total == bonus + Decimal("1.50") and currency


def test_declined_and_error_pages(db):
    study = make_study("trust")
    client = Client()
    joined = client.post(f"/s/{study.slug}/", {"step": "start"}, follow=True)
    url = joined.redirect_chain[-1][0]
    consent = _read(joined, url)
    response = client.post(url, {"csrfmiddlewaretoken": consent.csrf_token, "step": "consent",
                                 "decline": "yes"}, follow=True)
    assert _read(response, url).kind == "declined"
    missing = _read(client.get("/p/nope/"), "/p/nope/")
    assert missing.kind == "other" and missing.status == 404 and "404" in missing.describe()


def test_unreadable_earnings_are_a_value_error():
    page = read_page("/p/x/", 200, '<h1 id="debrief-title">Thanks</h1><dl><dt>Points</dt><dd>oops</dd></dl>')
    assert page.kind == "debrief"
    with pytest.raises(ValueError, match="unreadable earnings"):
        page.earned()


# --- moves: views from feedback equal the rulebook's participant_view ----------------------------------

def _roundtrip(obj):
    return json.loads(json.dumps(obj))


@pytest.mark.parametrize("game_name", list(SMALL_PARAMS))
def test_views_rebuilt_from_messages_equal_the_rulebooks(game_name):
    game = make_game(game_name, SMALL_PARAMS[game_name])
    pick = torch.Generator().manual_seed(7)
    state = game.init(1, generator=pick)
    previous = None
    trial = 0
    while not bool(state.done[0]):
        n = len(game.spec.participant_actions)
        p_action = int(torch.randint(n, (1,), generator=pick)[0])
        first = game.spec.turn_order is TurnOrder.PARTICIPANT_FIRST
        mask = game.observe(state, torch.tensor([p_action]) if first else None).action_mask[0]
        allowed = mask.nonzero().flatten()
        a_action = int(allowed[torch.randint(len(allowed), (1,), generator=pick)[0]])
        cue = _roundtrip(game.participant_cue(a_action))
        expected = participant_view(game, state, torch.tensor([a_action]))
        got = moves.view(game, trial, previous, cue)
        for name in ("trial", "last_action", "last_reward", "last_seen", "cue"):
            assert torch.equal(getattr(got, name).to(getattr(expected, name).dtype), getattr(expected, name)), \
                (game_name, trial, name, getattr(got, name), getattr(expected, name))
        state, result = game.step(state, torch.tensor([p_action]), torch.tensor([a_action]))
        previous = _roundtrip({"trial": trial, **game.participant_feedback(
            p_action, int(result.adversary_action[0]), float(result.participant_reward[0]),
            float(result.adversary_reward[0]))})
        own, shown = game.read_feedback(previous)
        assert own == p_action
        assert shown == (-1 if game.spec.participant_sees is Sight.NOTHING else int(result.adversary_action[0]))
        trial += 1
    assert trial == game.max_trials


def test_game_from_state_checks_the_actions():
    state = {"game": "trust", "params": {"rounds": 4, "endowment": 10}, "actions": [str(i) for i in range(11)]}
    assert moves.game_from_state(state).spec.participant_actions[-1] == "10"
    with pytest.raises(moves.ProtocolMismatch):
        moves.game_from_state({**state, "actions": [str(i) for i in range(21)]})


def test_choice_messages_per_game():
    g = torch.Generator().manual_seed(0)
    ipd = make_game("ipd", SMALL_PARAMS["ipd"])
    for action, name in enumerate(("C", "D")):
        fields = moves.choice_fields(ipd, action, g)
        assert fields["choice"] == name and 0 < fields["rt_ms"] < 60_000
    bandit = make_game("bandit", SMALL_PARAMS["bandit"])
    assert moves.choice_fields(bandit, 1, g)["choice"] == "option1"

    gonogo = make_game("gonogo", {**SMALL_PARAMS["gonogo"], "response_window_ms": 400})
    assert moves.choice_fields(gonogo, 0, g) == {"choice": "withhold", "rt_ms": None}
    rts = [moves.choice_fields(gonogo, 1, g) for _ in range(500)]
    assert {f["choice"] for f in rts} == {"respond"}
    values = [f["rt_ms"] for f in rts]
    # Inside the window (so a chosen response is never turned into an omission), never below the floor.
    assert min(values) >= moves.TIMED_RT_MIN_MS and max(values) <= 399.0
    assert max(values) == 399.0  # the window clips some draws (mean 350, sd 60)

    trust = make_game("trust", {"rounds": 4, "endowment": 20})
    for amount in (0, 7, 20):
        fields = moves.choice_fields(trust, amount, g)
        assert fields["choice"] == str(amount) and fields["rt_ms"] > 0
    assert trust.read_feedback(_roundtrip(trust.participant_feedback(7, 2, 0.0, 0.0))) == (7, 2)

    assert Move(trial=3, action=1, choice="D", rt_ms=12.5).message() == {
        "type": "choice", "trial": 3, "choice": "D", "rt_ms": 12.5}


def test_sample_action_follows_the_probabilities():
    g = torch.Generator().manual_seed(0)
    assert {moves.sample_action(torch.tensor([[0.0, 1.0]]), g) for _ in range(20)} == {1}
    draws = [moves.sample_action(torch.tensor([[0.5, 0.5]]), g) for _ in range(200)]
    assert 50 < sum(draws) < 150


# --- player: protocol messages in, next message out -------------------------------------------------------

class Recording(ParticipantModel):
    """Always picks the last action; records the views it is shown."""

    name, games = "recording", ("ipd", "bandit", "gonogo", "trust")

    def __init__(self, game):
        super().__init__(game)
        self.views = []

    def reset(self, batch_size, *, generator=None, device="cpu"):
        return None

    def act(self, view, state):
        self.views.append(view)
        probs = torch.zeros(1, self.n_actions)
        probs[0, -1] = 1.0
        return probs, state


def _ipd_state(trial, history, points=0.0, done=False):
    return {"type": "state", "game": "ipd", "turn_order": "simultaneous", "actions": ["C", "D"],
            "screen_order": [0, 1], "params": {"rounds": 3}, "trials": 3, "trial": trial, "done": done,
            "points": points, "history": history,
            "current": None if done else {"trial": trial, "cue": {}},
            "debrief_url": "/p/TOKEN/" if done else None}


def _fb(trial, mine, other, points):
    return {"trial": trial, "your_choice": mine, "other_choice": other, "points": points, "other_points": 0.0}


def _player():
    models = []

    def factory(game):
        models.append(Recording(game))
        return models[-1]
    return Player(factory, torch.Generator().manual_seed(0)), models


def test_player_answers_state_then_results_until_done():
    player, models = _player()
    sent = player.on_state(_ipd_state(0, []))
    assert sent["type"] == "choice" and sent["trial"] == 0 and sent["choice"] == "D"
    assert player.pending.trial == 0
    sent = player.on_result({"type": "result", "trial": 0, "duplicate": False, "feedback": _fb(0, "D", "C", 5.0),
                             "points": 5.0, "done": False, "next": {"trial": 1, "cue": {}}, "debrief_url": None})
    assert sent["trial"] == 1 and player.points == 5.0 and len(player.history) == 1
    # A late duplicate answer to trial 0 is ignored.
    assert player.on_result({"type": "result", "trial": 0, "duplicate": True, "feedback": _fb(0, "D", "C", 5.0),
                             "points": 5.0, "done": False, "next": {"trial": 1, "cue": {}},
                             "debrief_url": None}) is None
    sent = player.on_result({"type": "result", "trial": 1, "duplicate": False, "feedback": _fb(1, "D", "D", 1.0),
                             "points": 6.0, "done": False, "next": {"trial": 2, "cue": {}}, "debrief_url": None})
    assert sent["trial"] == 2
    assert player.on_result({"type": "result", "trial": 2, "duplicate": False, "feedback": _fb(2, "D", "D", 1.0),
                             "points": 7.0, "done": True, "next": None, "debrief_url": "/p/TOKEN/"}) is None
    assert player.done and player.debrief_url == "/p/TOKEN/" and player.points == 7.0
    assert sorted(player.moves) == [0, 1, 2] and len(models) == 1
    views = models[0].views
    assert [int(v.trial[0]) for v in views] == [0, 1, 2]
    assert [int(v.last_action[0]) for v in views] == [-1, 1, 1]
    assert [int(v.last_seen[0]) for v in views] == [-1, 0, 1]
    assert [float(v.last_reward[0]) for v in views] == [0.0, 5.0, 1.0]


def test_player_resumes_from_a_state_in_the_middle_of_a_game():
    player, models = _player()
    history = [_fb(0, "C", "C", 3.0), _fb(1, "D", "C", 5.0)]
    sent = player.on_state(_ipd_state(2, history, points=8.0))
    assert sent["trial"] == 2 and player.points == 8.0
    views = models[0].views  # the model learned from the two recorded trials before choosing
    assert [int(v.trial[0]) for v in views] == [0, 1, 2]
    assert [int(v.last_action[0]) for v in views] == [-1, 0, 1]
    assert [float(v.last_reward[0]) for v in views] == [0.0, 3.0, 5.0]
    assert sorted(player.moves) == [2]


def test_player_resends_an_unanswered_choice_and_moves_on_when_it_was_stored():
    player, models = _player()
    first = player.on_state(_ipd_state(0, []))
    # Reconnect before the result: the same trial is open, the same message is resent.
    assert player.on_state(_ipd_state(0, [])) == first
    assert len(models[0].views) == 1
    # Reconnect after the server stored it: the state has it in its history, play moves on.
    sent = player.on_state(_ipd_state(1, [_fb(0, "D", "C", 5.0)], points=5.0))
    assert sent["trial"] == 1 and len(models[0].views) == 2
    assert player.on_state(_ipd_state(3, [_fb(0, "D", "C", 5.0), _fb(1, "D", "D", 1.0), _fb(2, "D", "D", 1.0)],
                                      points=7.0, done=True)) is None
    assert player.done and player.debrief_url == "/p/TOKEN/"


def test_player_refuses_a_state_that_goes_back():
    player, _ = _player()
    player.on_state(_ipd_state(2, [_fb(0, "C", "C", 3.0), _fb(1, "C", "C", 3.0)]))
    with pytest.raises(moves.ProtocolMismatch):
        player.on_state(_ipd_state(1, [_fb(0, "C", "C", 3.0)]))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("game", list(SMALL_PARAMS))
async def test_player_plays_whole_games_over_the_websocket_and_resumes(game):
    """A learner plays the real consumer; after two trials the connection is dropped and a
    fresh Player (a rejoining bot) finishes from the server's state."""
    study = await database_sync_to_async(make_study)(game)
    participant = await database_sync_to_async(make_player)(study)
    factory = learner_factory(LEARNER[game])
    player = Player(factory, torch.Generator().manual_seed(1))
    communicator, state = await connect(participant.token)
    outgoing = player.on_state(state)
    for _ in range(2):
        await communicator.send_json_to(outgoing)
        result = await communicator.receive_json_from(timeout=5)
        assert result["type"] == "result", result
        outgoing = player.on_result(result)
    await communicator.disconnect()

    player = Player(factory, torch.Generator().manual_seed(2))
    communicator, state = await connect(participant.token)
    assert state["trial"] == 2
    outgoing = player.on_state(state)
    while outgoing is not None:
        await communicator.send_json_to(outgoing)
        result = await communicator.receive_json_from(timeout=5)
        assert result["type"] == "result" and result["duplicate"] is False, result
        outgoing = player.on_result(result)
    await communicator.disconnect()
    assert player.done and player.debrief_url == f"/p/{participant.token}/"
    assert sorted(player.moves) == list(range(2, participant.episode_length))
    trials = await database_sync_to_async(lambda: list(participant.trials.order_by("index")))()
    assert [t.index for t in trials] == list(range(participant.episode_length))
    assert player.points == pytest.approx(sum(t.participant_reward for t in trials))
    for t in trials[2:]:
        assert t.participant_action == player.moves[t.index].action or game == "gonogo"


@pytest.mark.django_db(transaction=True)
async def test_player_answers_the_practice_block_then_plays_the_game_with_its_model():
    """Practice trials are answered with the practice flag and never shown to the model: its first
    view is the game's trial 0."""
    study = await database_sync_to_async(make_study)("gonogo", practice_trials=3)
    participant = await database_sync_to_async(make_player)(study)
    player, models = _player()
    communicator, state = await connect(participant.token)
    assert state["current"]["practice"] is True
    outgoing = player.on_state(state)
    practice_answers = 0
    while outgoing is not None:
        practice_answers += bool(outgoing.get("practice"))
        await communicator.send_json_to(outgoing)
        result = await communicator.receive_json_from(timeout=5)
        assert result["type"] == "result" and result["duplicate"] is False, result
        outgoing = player.on_result(result)
    await communicator.disconnect()
    assert player.done and practice_answers == 3
    assert [int(v.trial[0]) for v in models[0].views] == list(range(participant.episode_length))
    trials = await database_sync_to_async(lambda: list(participant.trials.values_list("practice", flat=True)))()
    assert sorted(trials) == [False] * participant.episode_length + [True] * 3


# --- runner: the summary's arithmetic ------------------------------------------------------------------

def _result(index, completed, condition=None, points=None, total=None, reason=None, moves_=0):
    return BotResult(index=index, seed=index, completed=completed, condition=condition, points=points,
                     total=None if total is None else Decimal(total), currency="GBP", reason=reason,
                     moves=[Move(trial=t, action=0, choice="C", rt_ms=1.0) for t in range(moves_)])


def test_summary_counts_and_means_per_condition():
    results = [
        _result(0, True, "tft", 10.0, "1.50", moves_=5),
        _result(1, True, "tft", 20.0, "2.50", moves_=5),
        _result(2, True, "random", 7.0, "1.00", moves_=5),
        _result(3, True, None, 4.0, "0.40", moves_=5),
        _result(4, False, "tft", reason="gave up", moves_=2),
        _result(5, False, None, reason="gave up"),
        _result(6, False, None, reason="join: 404 Not found"),
    ]
    summary = BotsSummary(study_slug="s", learner="q_learning", seed=9, results=results, seconds=3.5)
    assert [r.index for r in summary.completed] == [0, 1, 2, 3]
    assert [r.index for r in summary.failed] == [4, 5, 6]
    assert summary.bots_per_second == pytest.approx(2.0)
    assert summary.failure_reasons() == {"gave up": 2, "join: 404 Not found": 1}
    assert summary.mean_points_by_condition() == {"random": 7.0, "tft": 15.0, "unknown": 4.0}
    report = summary.report()
    lines = report.splitlines()
    assert lines[0] == ("bots for s (q_learning, seed 9): 4 completed, 3 failed, 3.5 s (2.00 bots/s, 22 choices)")
    assert lines[1] == "  failed x2: gave up" and lines[2] == "  failed x1: join: 404 Not found"
    rows = {line.split()[0]: line.split()[1:] for line in lines[4:]}
    assert rows == {"random": ["1", "7.00", "1.00", "GBP"], "tft": ["2", "15.00", "2.00", "GBP"],
                    "unknown": ["1", "4.00", "0.40", "GBP"]}
    empty = BotsSummary(study_slug="s", learner="x", seed=0, results=[], seconds=0.0)
    assert empty.bots_per_second == 0.0 and empty.report().startswith("bots for s (x, seed 0): 0 completed, 0 failed")


def test_learner_factory_checks_the_name():
    from shaping_core.participants import ParticipantParamsError

    with pytest.raises(ParticipantParamsError, match="unknown learner"):
        learner_factory("nobody")
    assert learner_factory("q_learning")(make_game("ipd", {"rounds": 3})).n_actions == 2


# --- end to end: manage.py run_bots against a real daphne server ------------------------------------------

SETUP_STUDIES = """
from webapp.studies.models import Condition, Study
from webapp.studies.services import study_set_status
for slug, game, params, conditions in [
        ("bots-ipd", "ipd", {"rounds": 4}, [("tft", "tit_for_tat", {}), ("defect", "always_defect", {})]),
        ("bots-trust", "trust", {"rounds": 3}, [("random", "random_repayment", {})])]:
    study = Study(name=slug, slug=slug, game=game, game_params=params, completion_code="BOTS")
    study.full_clean(); study.save()
    for name, adversary, adversary_params in conditions:
        c = Condition(study=study, name=name, adversary=adversary, adversary_params=adversary_params)
        c.full_clean(); c.save()
    study_set_status(study=study, action="launch")
"""

COUNT_TRIALS = """
import json
from django.db.models import Count
from webapp.play.models import Trial
from webapp.studies.models import Participant
out = {}
for slug in ("bots-ipd", "bots-trust"):
    trials = Trial.objects.filter(participant__study__slug=slug)
    out[slug] = {"participants": Participant.objects.filter(study__slug=slug).count(),
                 "trials": trials.count(),
                 "complete": trials.exclude(participant_action=None).count(),
                 "max_per_index": max(trials.values("participant", "index").annotate(n=Count("id"))
                                      .values_list("n", flat=True), default=0),
                 "finished": Participant.objects.filter(study__slug=slug, status="completed").count()}
print(json.dumps(out))
"""


@pytest.mark.slow
def test_run_bots_command_against_a_live_server(tmp_path):
    bots = 3
    server = LiveServer(tmp_path).start(setup=SETUP_STUDIES)
    try:
        for slug, learner, conditions in (("bots-ipd", "q_learning", {"tft", "defect"}),
                                          ("bots-trust", "investor", {"random"})):
            run = server.manage("run_bots", "--study", slug, "--count", str(bots), "--learner", learner,
                                "--concurrency", "2", "--base-url", server.base_url, "--seed", "5")
            assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
            lines = run.stdout.splitlines()
            headline = next(line for line in lines if line.startswith(f"bots for {slug}"))
            assert f"({learner}, seed 5): {bots} completed, 0 failed" in headline, run.stdout
            rows = {line.split()[0]: line.split()[1:] for line in lines[lines.index(headline) + 2:]}
            assert set(rows) <= conditions and sum(int(r[0]) for r in rows.values()) == bots, run.stdout
    finally:
        server.stop()

    counted = server.manage("shell", "-c", COUNT_TRIALS)
    assert counted.returncode == 0, counted.stderr[-2000:]
    figures = json.loads(counted.stdout.strip().splitlines()[-1])
    for slug, rounds in (("bots-ipd", 4), ("bots-trust", 3)):
        f = figures[slug]
        assert f["participants"] == bots and f["finished"] == bots, figures
        assert f["trials"] == f["complete"] == rounds * bots, figures
        assert f["max_per_index"] == 1, figures
