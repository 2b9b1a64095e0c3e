"""Seeded fuzzing of the participant's two ways in.

The play websocket, through the real ASGI application: in each of the four games, hundreds of
malformed, oversized, wrong-type, binary, out-of-order (a future trial), replayed (an old trial
with another choice) and unknown-field messages, interleaved with valid choices so that games
progress and end, while an honest participant plays a whole game on another connection. Every
message gets exactly one reply, of the kind its mutation calls for, and what the replies say
adds up; afterwards every participant's trials are consistent and replay under the rules.

The participant page's forms: thousands of posts with random, missing and wrong-type fields and
steps. Never a server error, and a participant's status only moves forward.

Failures name the seed and the message; FUZZ_SEED=<n> runs other sequences.
"""

import asyncio
import json
import os
import random
import string
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from helpers import GAMES, choose, connect, make_player, make_study, scripted_choice
from webapp.play.models import Trial
from webapp.play.protocol import MAX_MESSAGE_BYTES, MAX_REACTION_TIME_MS
from webapp.play.services import live_game_load
from webapp.studies.models import Participant
from webapp.studies.services import ExternalIds, participant_join

SEED = int(os.environ.get("FUZZ_SEED", "20240611"))
MESSAGES_PER_GAME = 500  # 2000 over the four games
FORM_POSTS = 2000
CSRF_FORM_POSTS = 200

db = database_sync_to_async

# The errors fuzzing may cause. Not server_error (an exception while storing: a bug), nor
# rate_limited (the flood limits are raised here), nor wrong_phase (every fuzzed participant plays).
FUZZ_ERRORS = {"bad_json", "too_large", "bad_message", "unknown_type", "invalid_choice", "wrong_trial", "game_over"}
# What may be mixed into random text: JSON's own characters, escapes, controls, multi-byte.
NOISE = string.printable + '{}[]":,\\' + "\x00\x7f\u00e9\u20ac\u2028\U0001f600"


# --- the websocket ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    """A message to send and the reply it calls for: `expect` is an error code, or "new" (a result
    recording the current trial, or game_over after the end), "duplicate" (the stored result of
    `trial`), "future" (wrong_trial, or game_over after the end), "state", or "any"."""

    kind: str
    frame: str | bytes
    expect: str
    trial: int | None = None


class FuzzedGame:
    """One fuzzed connection and what the server's replies said about its game."""

    def __init__(self, communicator, state: dict):
        self.communicator = communicator
        self.name, self.actions = state["game"], state["actions"]
        self.current, self.done = state["trial"], state["done"]
        self.feedback = {h["trial"]: h for h in state["history"]}

    # Messages -----------------------------------------------------------------------------------

    def choice(self, rng: random.Random, trial: int | None = None) -> dict:
        name = rng.choice(self.actions)
        if name == "respond":  # go/no-go needs the reaction time; some come too late (an omission)
            rt_ms = rng.uniform(0, 2000)
        else:
            rt_ms = rng.choice([None, rng.uniform(0, 5000), 0, MAX_REACTION_TIME_MS])
        choice = int(name) if self.name == "trust" and rng.random() < 0.5 else name
        return {"type": "choice", "trial": self.current if trial is None else trial, "choice": choice,
                "rt_ms": rt_ms}

    def probe(self, rng: random.Random) -> Probe:
        kind = rng.choices(list(MUTATIONS), weights=[w for w, _ in MUTATIONS.values()])[0]
        return MUTATIONS[kind][1](self, rng)

    # Replies ------------------------------------------------------------------------------------

    def check(self, reply: dict, probe: Probe, where: str) -> None:
        """Assert that `reply` is what `probe` calls for and agrees with earlier replies; learn
        from it."""
        kind = reply.get("type")
        assert kind in ("error", "result", "state"), where
        if kind == "error":
            assert reply["code"] in FUZZ_ERRORS and reply["message"], where
        expect = probe.expect
        if expect == "new":
            expect = "game_over" if self.done else "result"
        elif expect == "future":
            expect = "game_over" if self.done else "wrong_trial"
        if expect == "result":
            assert kind == "result" and reply["trial"] == self.current and not reply["duplicate"], where
        elif expect == "duplicate":
            assert kind == "result" and reply["trial"] == probe.trial and reply["duplicate"], where
        elif expect == "state":
            assert kind == "state", where
        elif expect != "any":
            assert kind == "error" and reply["code"] == expect, where
            if expect == "wrong_trial":
                assert reply["expected_trial"] == self.current, where
        if kind == "result":
            self._learn_result(reply, where)
        elif kind == "state":
            self._check_state(reply, where)

    def _learn_result(self, reply: dict, where: str) -> None:
        trial = reply["trial"]
        if reply["duplicate"]:
            assert reply["feedback"] == self.feedback[trial], where  # the first answer stands
            return
        assert trial == self.current and not self.done and trial not in self.feedback, where
        self.feedback[trial] = reply["feedback"]
        self.done = reply["done"]
        self.current = trial + 1
        assert (reply["next"] is None) == self.done, where
        assert self.done or reply["next"]["trial"] == self.current, where

    def _check_state(self, state: dict, where: str) -> None:
        assert (state["trial"], state["done"]) == (self.current, self.done), where
        assert state["history"] == [self.feedback[t] for t in range(self.current)], where


def _valid(game: FuzzedGame, rng):
    return Probe("valid", json.dumps(game.choice(rng)), "new")


def _sync(game: FuzzedGame, rng):
    return Probe("sync", json.dumps({"type": "sync"}), "state")


def _replayed(game: FuzzedGame, rng):
    if not game.feedback:
        return _future(game, rng)
    trial = rng.choice(list(game.feedback))
    stored = game.feedback[trial]
    stored_name = str(stored.get("your_choice", stored.get("invested")))
    other = [a for a in game.actions if a != stored_name]
    message = {**game.choice(rng, trial), "choice": rng.choice(other)}
    return Probe("replayed", json.dumps(message), "duplicate", trial)


def _future(game: FuzzedGame, rng):
    trial = game.current + rng.choice([1, 2, 3, rng.randrange(4, 10**6), 10 ** rng.randrange(7, 40)])
    return Probe("future", json.dumps(game.choice(rng, trial)), "future")


def _oversized(game: FuzzedGame, rng):
    size = MAX_MESSAGE_BYTES + rng.randrange(1, 3 * MAX_MESSAGE_BYTES)
    frame = rng.choice([
        json.dumps({**game.choice(rng), "pad": "x" * size}),
        json.dumps({"type": "sync", "pad": "\u00e9" * (size // 2 + 1)}, ensure_ascii=False),  # bytes, not chars
        "".join(rng.choices(NOISE, k=size)),
        json.dumps([game.choice(rng)] * (size // 40)),
    ])
    return Probe("oversized", frame, "too_large")


def _binary(game: FuzzedGame, rng):
    frame = rng.choice([rng.randbytes(rng.randrange(1, 100)), json.dumps(game.choice(rng)).encode()])
    return Probe("binary", frame, "bad_json")


UNKNOWN_FIELDS = ["token", "participant", "points", "done", "Trial", "trial_index", "", "__proto__", "\u00e9"]


def _unknown_field(game: FuzzedGame, rng):
    message = rng.choice([game.choice(rng), {"type": "sync"}])
    message[rng.choice(UNKNOWN_FIELDS)] = rng.choice([None, 1, "x", [], {}])
    return Probe("unknown field", json.dumps(message), "bad_message")


NOT_A_TRIAL = ["0", "1", 1.0, 0.5, -1, -(10**20), True, False, None, [], {}, [0]]
NOT_A_REACTION_TIME = ["fast", "500", -1, -0.001, MAX_REACTION_TIME_MS + 1, 1e308, float("nan"), float("inf"),
                       True, False, [], {}, [500]]


def _wrong_type(game: FuzzedGame, rng):
    """One field of a valid choice replaced; the parser checks trial, then choice, then rt_ms."""
    message = game.choice(rng)
    field = rng.choice(["trial", "choice", "rt_ms", "missing trial", "missing choice"])
    if field == "trial":
        message["trial"] = rng.choice(NOT_A_TRIAL)
    elif field == "choice":
        not_actions = [None, True, False, 1.5, [], {}, [game.actions[0]], "", " " + game.actions[0],
                       game.actions[0].upper() + "x", "\u0000", -1, 10**30, "05"]
        if game.name != "trust":
            not_actions.append(rng.randrange(0, 100))
        message["choice"] = rng.choice(not_actions)
    elif field == "rt_ms":
        message["rt_ms"] = rng.choice(NOT_A_REACTION_TIME)
    else:
        del message[field.removeprefix("missing ")]
    code = "invalid_choice" if "choice" in field else "bad_message"
    return Probe("wrong type", json.dumps(message), code)  # NaN and Infinity are written as JS literals


def _not_an_object(game: FuzzedGame, rng):
    frame = rng.choice(["[]", "[1, 2]", "1", "-0.5", '"choice"', "null", "true", json.dumps([game.choice(rng)])])
    return Probe("not an object", frame, "bad_message")


def _unknown_type(game: FuzzedGame, rng):
    message = game.choice(rng)
    if rng.random() < 0.2:
        del message["type"]
    else:
        message["type"] = rng.choice(["Choice", "SYNC", " sync", "choices", "result", "state", "", 1, None, [], {}])
    return Probe("unknown type", json.dumps(message), "unknown_type")


def _malformed(game: FuzzedGame, rng):
    text = json.dumps(rng.choice([game.choice(rng), {"type": "sync"}]))
    variant = rng.randrange(4)
    if variant == 0:  # every proper prefix of a JSON object is broken JSON
        return Probe("truncated", text[:rng.randrange(len(text))], "bad_json")
    if variant == 1:
        depth = rng.randrange(1000, MAX_MESSAGE_BYTES // 2)  # nested deeper than the parser goes
        return Probe("deeply nested", "[" * depth + "]" * depth, "bad_json")
    if variant == 2:
        return Probe("noise", "".join(rng.choices(NOISE, k=rng.randrange(0, 200))), "any")
    chars = list(text)
    for _ in range(rng.randrange(1, 6)):  # a few random edits: anything may come of them
        position = rng.randrange(len(chars) + 1)
        edit = rng.randrange(3)
        if edit == 0:
            chars.insert(position, rng.choice(NOISE))
        elif chars and position < len(chars):
            if edit == 1:
                del chars[position]
            else:
                chars[position] = rng.choice(NOISE)
    return Probe("mutated", "".join(chars), "any")


# kind: (weight, builder)
MUTATIONS = {
    "valid": (20, _valid), "sync": (4, _sync), "replayed": (10, _replayed), "future": (10, _future),
    "oversized": (5, _oversized), "binary": (5, _binary), "unknown field": (8, _unknown_field),
    "wrong type": (16, _wrong_type), "not an object": (4, _not_an_object), "unknown type": (6, _unknown_type),
    "malformed": (12, _malformed),
}


async def exchange(game: FuzzedGame, probe: Probe, where: str) -> dict:
    """Send one frame; its one reply. The connection must stay open: no fuzzed message is a reason
    to close it (the flood limits are raised)."""
    key = "bytes" if isinstance(probe.frame, bytes) else "text"
    await game.communicator.send_input({"type": "websocket.receive", key: probe.frame})
    try:
        output = await game.communicator.receive_output(timeout=10)
    except Exception as error:  # no reply (a timeout), or the consumer's own exception
        raise AssertionError(f"{where}: no reply: {error!r}") from error
    assert output["type"] == "websocket.send" and output.get("text"), where + f" -> {output}"
    return json.loads(output["text"])


async def finish(game: FuzzedGame, where: str) -> None:
    """A last sync: its state must agree with every earlier reply, and nothing may follow it (the
    consumer answers in order, so an extra reply to any earlier message would be queued before)."""
    reply = await exchange(game, Probe("sync", json.dumps({"type": "sync"}), "state"), where)
    game.check(reply, Probe("sync", "", "state"), where)
    assert game.communicator.output_queue.empty(), where
    await game.communicator.disconnect()


async def fuzz_connections(study, rng: random.Random, seed: int) -> None:
    """Fuzz fresh participants' games one after the other, MESSAGES_PER_GAME messages in all."""
    sent = 0
    while sent < MESSAGES_PER_GAME:
        participant = await db(make_player)(study)
        communicator, state = await connect(participant.token)
        game = FuzzedGame(communicator, state)
        messages_after_the_end = rng.randrange(1, 15)
        while sent < MESSAGES_PER_GAME and messages_after_the_end:
            probe = game.probe(rng)
            where = f"seed {seed}, message {sent} ({probe.kind}): {probe.frame[:300]!r}"
            reply = await exchange(game, probe, where)
            game.check(reply, probe, f"{where} -> {reply}")
            sent += 1
            messages_after_the_end -= game.done
        await finish(game, f"seed {seed}, after message {sent}")


async def play_honestly(study) -> Participant:
    participant = await db(make_player)(study)
    communicator, state = await connect(participant.token)
    current = state["current"]
    while current is not None:
        choice = scripted_choice(study.game, current["trial"])
        result = await choose(communicator, current["trial"], choice["choice"], choice["rt_ms"])
        assert result["type"] == "result" and result["trial"] == current["trial"] and not result["duplicate"], result
        current = result["next"]
    assert result["done"]
    await communicator.disconnect()
    return participant


def trial_table_problems(study) -> list[str]:
    """Every participant's trials: indexes 0..n-1, at most one open trial (the last), and the
    completed ones replay under the rules (same rewards, same adversary moves)."""
    problems = []
    for participant in Participant.objects.filter(study=study):
        trials = list(Trial.objects.filter(participant=participant).order_by("index"))
        indexes = [t.index for t in trials]
        open_trials = [t.index for t in trials if not t.is_complete]
        if indexes != list(range(len(trials))):
            problems.append(f"{participant}: trial indexes {indexes}")
        if open_trials and open_trials != [indexes[-1]]:
            problems.append(f"{participant}: open trials {open_trials}")
        try:
            live = live_game_load(participant=participant)
        except Exception as error:
            problems.append(f"{participant}: replay failed: {error!r}")
            continue
        if live.done != (participant.status == Participant.Status.COMPLETED):
            problems.append(f"{participant}: status {participant.status}, game done {live.done}")
    return problems


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("game_index", range(len(GAMES)), ids=GAMES)
async def test_fuzzed_messages_get_one_fitting_reply_and_leave_the_games_consistent(settings, game_index):
    settings.SHAPING_LAB_WS_MESSAGES_PER_S = settings.SHAPING_LAB_WS_MESSAGE_BURST = 10**9
    seed = SEED + game_index
    rng = random.Random(seed)
    study = await db(make_study)(GAMES[game_index])

    _, honest = await asyncio.gather(fuzz_connections(study, rng, seed),
                                     play_honestly(study))  # meanwhile, on its own connection
    honest = await db(Participant.objects.get)(pk=honest.pk)
    assert honest.status == Participant.Status.COMPLETED
    assert await db(Trial.objects.filter(participant=honest, participant_action__isnull=False).count)() == (
        honest.episode_length)
    problems = await db(trial_table_problems)(study)
    assert not problems, f"seed {seed}: {problems}"
    assert await db(Participant.objects.filter(study=study, status=Participant.Status.COMPLETED).count)() > 2, (
        f"seed {seed}: the fuzz should finish games")


# --- the participant page's forms --------------------------------------------------------------------

FORWARD = {("consent", "instructions"), ("consent", "declined"), ("instructions", "playing")}
# Nonsense for any field: other digits ("²", Arabic-Indic three), numbers too long for int(), signs,
# spaces, controls, multi-byte text.
NONSENSE = ["", "yes", "no", "YES", "on", "-1", "1.0", " 1", "1 ", "0x1", "\u00b2", "\u0663", "9" * 5000, "99999",
            "a", "None", "[]", "yes\x00", "\u00e9", "x" * 5000, "consent", "comprehension", "debrief"]
OTHER_FIELDS = ["step", "agree", "decline", "q0", "q1", "q99", "status", "token", "participant", "\u00e9"]


def random_form(rng: random.Random, participant: Participant) -> dict:
    """The form the participant's page shows, filled in right (now and then the other step's form),
    then mutated: fields dropped, set to nonsense or to other numbers, sent twice, added."""
    questions = participant.study.comprehension_questions
    if participant.status == Participant.Status.CONSENT or rng.random() < 0.15:
        form = {"step": "consent", "decline" if rng.random() < 0.15 else "agree": "yes"}
    else:
        form = {"step": "comprehension", **{f"q{i}": str(q["answer"]) for i, q in enumerate(questions)}}
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        name = rng.choice([*form, *OTHER_FIELDS])
        mutation = rng.randrange(4)
        if mutation == 0:
            form.pop(name, None)
        elif mutation == 1:
            form[name] = rng.choice(NONSENSE)
        elif mutation == 2:
            form[name] = str(rng.randrange(-2, 6))
        else:  # a list: the field sent twice
            form[name] = [form.get(name, "1"), rng.choice(NONSENSE)]
    return form


def post_randomly(rng: random.Random, client: Client, url: str, form: dict, readable_only: bool = False):
    """Post `form` in one of the ways a client may encode it (mostly as a browser does), or a body
    that is no form at all; `readable_only` leaves out the bodies Django refuses (400) unread."""
    urlencoded = "application/x-www-form-urlencoded"
    ways = ["browser", "browser", "multipart", "query string", "file", "json", "raw bytes"]
    way = rng.choice(ways if readable_only else [*ways, "broken multipart", "too many fields"])
    if way == "browser":
        return client.post(url, urlencode(form, doseq=True), content_type=urlencoded)
    if way == "multipart":
        return client.post(url, form)
    if way == "query string":  # the fields in the URL; the view reads only the body
        return client.post(f"{url}?{urlencode(form, doseq=True)}", {})
    if way == "file":
        file = SimpleUploadedFile("f", rng.randbytes(9))
        return client.post(url, {**form, rng.choice(["step", "agree", "q0"]): file})
    if way == "json":
        return client.post(url, json.dumps(form), content_type="application/json")
    if way == "raw bytes":  # bad percent-escapes, invalid UTF-8
        body = rng.choice([rng.randbytes(rng.randrange(1, 200)), b"step=consent&agree=%FF%FE%", b"%%%&&==&"])
        return client.post(url, body, content_type=urlencoded)
    if way == "broken multipart":
        return client.post(url, b"--nope\r\n" + rng.randbytes(50), content_type="multipart/form-data; boundary=x")
    return client.post(url, "&".join(f"f{i}=1" for i in range(1200)), content_type=urlencoded)  # over Django's 1000


def test_random_form_posts_never_fail_and_only_move_forward(db):
    rng = random.Random(SEED)
    studies = [make_study(game) for game in GAMES]
    client = Client()  # CSRF checks off (the test client's default): the posts reach the view
    participants = [participant_join(study=rng.choice(studies), external=ExternalIds())[0] for _ in range(6)]
    reached = set()
    for i in range(FORM_POSTS):
        participant = rng.choice(participants)
        before = participant.status
        form = random_form(rng, participant)
        response = post_randomly(rng, client, f"/p/{participant.token}/", form)
        where = f"seed {SEED}, post {i}: {str(form)[:300]}"
        assert response.status_code in (200, 302, 400, 403, 404), f"{where} -> {response.status_code}"
        if response.status_code != 302:
            continue  # every step forward redirects; a wrong one in a 400 shows in the next status read
        participant.refresh_from_db(fields=["status"])
        assert participant.status == before or (before, participant.status) in FORWARD, (
            f"{where}: {before} -> {participant.status}")
        if participant.status in (Participant.Status.PLAYING, Participant.Status.DECLINED):
            reached.add(participant.status)
            participants[participants.index(participant)] = participant_join(
                study=rng.choice(studies), external=ExternalIds())[0]
    assert reached == {"playing", "declined"}, f"seed {SEED}: the fuzz should get participants through"


def test_random_form_posts_without_the_csrf_token_are_refused(db):
    rng = random.Random(SEED)
    studies = [make_study(game) for game in GAMES]
    participants = [participant_join(study=study, external=ExternalIds())[0] for study in studies]
    with_cookie, without_cookie = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    with_cookie.get(f"/p/{participants[0].token}/")  # the CSRF cookie, but never its token in the form
    for i in range(CSRF_FORM_POSTS):
        participant = rng.choice(participants)
        form = random_form(rng, participant)
        if rng.random() < 0.3:
            form["csrfmiddlewaretoken"] = "".join(rng.choices(string.ascii_letters, k=rng.choice([32, 64])))
        browser = rng.choice([with_cookie, without_cookie])
        response = post_randomly(rng, browser, f"/p/{participant.token}/", form, readable_only=True)
        assert response.status_code == 403, f"seed {SEED}, post {i}: {str(form)[:300]} -> {response.status_code}"
    assert {p.status for p in Participant.objects.all()} == {"consent"}
