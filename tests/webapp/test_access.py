"""Who can reach what: a token reaches only its own game, guessing tokens is refused, the
researchers' pages are staff-only, the participant's forms need their CSRF token, and caps hold
under 200 simultaneous joins."""

import re
import threading
from collections import Counter

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test import Client

from helpers import choose, connect, make_player, make_study
from webapp.play.models import Trial
from webapp.play.services import play_start, trial_submit
from webapp.studies.models import Participant
from webapp.research.report import EARNINGS_FIGURE, condition_figure
from webapp.studies.services import ExternalIds, participant_join

db = database_sync_to_async

SCANNER, NEIGHBOUR = "203.0.113.7", "198.51.100.20"  # documentation addresses (RFC 5737)


def trials_of(participant) -> list[tuple[int, int | None]]:
    return list(Trial.objects.filter(participant=participant).order_by("index")
                .values_list("index", "participant_action"))


# --- (a) a token reaches only its own game ---------------------------------------------------------

@pytest.mark.django_db(transaction=True)
async def test_a_token_only_reaches_its_own_game():
    study_a, study_b = await db(make_study)("ipd"), await db(make_study)("trust")
    alice, bob = await db(make_player)(study_a), await db(make_player)(study_b)
    socket_a, state_a = await connect(alice.token)
    socket_b, state_b = await connect(bob.token)
    assert (state_a["game"], state_b["game"]) == ("ipd", "trust")

    results = [await choose(socket_a, trial, "D") for trial in range(3)]
    assert [r["trial"] for r in results] == [0, 1, 2] and all(r["type"] == "result" for r in results)
    assert [r["feedback"]["your_choice"] for r in results] == ["D", "D", "D"]
    # Naming the other participant in a message is no way in: unknown fields are refused.
    await socket_a.send_json_to({"type": "choice", "trial": 3, "choice": "C", "token": bob.token})
    assert (await socket_a.receive_json_from(timeout=5))["code"] == "bad_message"

    assert await db(trials_of)(bob) == []  # the trust game opens no row before the investor moves
    assert await db(trials_of)(alice) == [(0, 1), (1, 1), (2, 1), (3, None)]
    # Bob's socket heard nothing of Alice's trials: the next message it gets answers its own sync.
    await socket_b.send_json_to({"type": "sync"})
    state_b = await socket_b.receive_json_from(timeout=5)
    assert state_b["type"] == "state" and state_b["trial"] == 0 and state_b["history"] == []
    assert (await choose(socket_b, 0, 7))["feedback"]["invested"] == 7
    await socket_a.send_json_to({"type": "sync"})
    state_a = await socket_a.receive_json_from(timeout=5)
    assert [h["your_choice"] for h in state_a["history"]] == ["D", "D", "D"] and state_a["game"] == "ipd"
    assert await db(trials_of)(alice) == [(0, 1), (1, 1), (2, 1), (3, None)]
    await socket_a.disconnect()
    await socket_b.disconnect()


# --- (b) guessing tokens ---------------------------------------------------------------------------

def test_tokens_are_long_url_safe_and_distinct():
    draw = Participant._meta.get_field("token").default
    tokens = [draw() for _ in range(1000)]
    assert all(len(t) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", t) for t in tokens)
    assert len(set(tokens)) == 1000


def guess_page(address: str, client: Client | None = None):
    from secrets import token_urlsafe

    return (client or Client()).get(f"/p/{token_urlsafe(32)}/", REMOTE_ADDR=address)


def test_guessing_participant_pages_is_refused_after_the_limit(db, settings):
    study = make_study("ipd")
    participant = make_player(study)
    limit = settings.SHAPING_LAB_UNKNOWN_TOKEN_LIMIT
    statuses = [guess_page(SCANNER).status_code for _ in range(limit + 3)]
    assert statuses == [404] * limit + [429] * 3
    refused = guess_page(SCANNER)
    assert refused["Content-Type"].startswith("text/plain") and b"Too many" in refused.content
    assert 0 < int(refused["Retry-After"]) <= settings.SHAPING_LAB_UNKNOWN_TOKEN_WINDOW_S + 1
    # A real token still works from that address, and other addresses are not affected.
    assert Client().get(f"/p/{participant.token}/", REMOTE_ADDR=SCANNER).status_code == 200
    assert guess_page(NEIGHBOUR).status_code == 404


async def close_code(token: str, address: str) -> int:
    communicator, _ = await connect(token, expect_state=False, client=address)
    output = await communicator.receive_output(timeout=5)
    assert output["type"] == "websocket.close", output
    return output["code"]


@pytest.mark.django_db(transaction=True)
async def test_guessing_tokens_on_the_websocket_is_refused_after_the_limit(settings):
    from secrets import token_urlsafe

    study = await db(make_study)("ipd")
    participant = await db(make_player)(study)
    limit = settings.SHAPING_LAB_UNKNOWN_TOKEN_LIMIT
    # Guesses on the page and on the websocket count together.
    pages = [(await db(guess_page)(SCANNER)).status_code for _ in range(limit - 2)]
    codes = [await close_code(token_urlsafe(32), SCANNER) for _ in range(4)]
    assert pages == [404] * (limit - 2) and codes == [4404, 4404, 4429, 4429]
    assert (await db(guess_page)(SCANNER)).status_code == 429

    communicator, state = await connect(participant.token, client=SCANNER)
    assert state["type"] == "state" and (await choose(communicator, 0, "C"))["type"] == "result"
    await communicator.disconnect()
    assert await close_code(token_urlsafe(32), NEIGHBOUR) == 4404


# --- (c) the researchers' pages are staff-only ------------------------------------------------------

def staff_urls(study) -> list[str]:
    condition = study.conditions.get().name
    monitor = f"/admin/studies/study/{study.pk}/monitor/"
    return [
        "/admin/", "/admin/studies/study/", "/admin/studies/study/add/", f"/admin/studies/study/{study.pk}/change/",
        "/admin/studies/participant/", "/admin/play/trial/", "/admin/policies/registeredpolicy/",
        monitor, monitor + "data/", monitor + f"figure/{condition_figure(condition)}",
        monitor + f"figure/{EARNINGS_FIGURE}",
        f"/studies/{study.slug}/export.csv", f"/studies/{study.slug}/export.parquet",
    ]


@pytest.fixture
def played_study(db):
    study = make_study("ipd")
    participant = make_player(study)
    live = play_start(participant=participant)
    for trial in range(participant.episode_length):
        live = trial_submit(participant=participant, live=live, trial_index=trial, action=trial % 2,
                            reaction_time_ms=500).live
    return study


@pytest.mark.parametrize("who", ["anonymous", "participant-like user"])
def test_staff_pages_send_everyone_else_to_the_admin_login(played_study, django_user_model, who):
    client = Client()
    if who != "anonymous":
        client.force_login(django_user_model.objects.create_user("visitor", password="not-staff-1234"))
    for url in staff_urls(played_study):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/admin/login/"), (url, response)
    response = client.post(f"/admin/studies/study/{played_study.pk}/status/close/")
    assert response.status_code == 302 and response.url.startswith("/admin/login/")
    played_study.refresh_from_db()
    assert played_study.status == "live"


def test_staff_pages_work_for_staff(played_study, admin_client):
    expected_types = {"data/": "application/json", ".png": "image/png", ".csv": "text/csv",
                      ".parquet": "application/vnd.apache.parquet"}
    for url in staff_urls(played_study):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        for ending, content_type in expected_types.items():
            if url.endswith(ending):
                assert response["Content-Type"].startswith(content_type), url


# --- (d) the participant's forms need their CSRF token -----------------------------------------------

def test_consent_and_comprehension_posts_need_the_csrf_token(db):
    study = make_study("ipd")
    participant, _ = participant_join(study=study, external=ExternalIds())
    page = f"/p/{participant.token}/"
    browser = Client(enforce_csrf_checks=True)
    browser.get(page)  # sets the CSRF cookie; the forms below leave out the token
    right = {f"q{i}": str(q["answer"]) for i, q in enumerate(study.comprehension_questions)}

    for step, fields, before, after in [("consent", {"agree": "yes"}, "consent", "instructions"),
                                        ("comprehension", right, "instructions", "playing")]:
        assert browser.post(page, {"step": step, **fields}).status_code == 403
        participant.refresh_from_db()
        assert participant.status == before
        token = browser.cookies["csrftoken"].value
        assert browser.post(page, {"step": step, "csrfmiddlewaretoken": token, **fields}).status_code == 302
        participant.refresh_from_db()
        assert participant.status == after


# --- (f) caps under 200 simultaneous joins ----------------------------------------------------------

JOINS = 200
# All joins are released at once, and at most this many hold a database connection at a time, as
# behind a server's connection pool: PostgreSQL refuses connections past max_connections (100 by
# default, for everyone using the server), so 200 at once fail there with "too many clients".
DATABASE_CONNECTIONS = 40


def join_at_once(study, queries: list[dict]) -> list:
    """Press Start on the join link from one thread per query, all released at once; the responses
    (500 for an exception)."""
    barrier = threading.Barrier(len(queries))
    connections = threading.BoundedSemaphore(DATABASE_CONNECTIONS)
    responses = [None] * len(queries)

    def visit(i):
        barrier.wait()
        with connections:
            try:
                responses[i] = Client(raise_request_exception=False).post(f"/s/{study.slug}/", queries[i])
            finally:
                connection.close()

    threads = [threading.Thread(target=visit, args=(i,)) for i in range(len(queries))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


@pytest.mark.django_db(transaction=True)
def test_caps_hold_under_200_simultaneous_joins():
    study = make_study("ipd", cap=50, conditions=[("a", "tit_for_tat", {}, 1), ("b", "always_defect", {}, 1)])
    responses = join_at_once(study, [{"PROLIFIC_PID": f"p{i}"} for i in range(JOINS)])
    admitted = [r for r in responses if r.status_code == 302]
    full = [r for r in responses if r.status_code == 403 and b"full" in r.content.lower()]
    assert (len(admitted), len(full)) == (100, 100), Counter(r.status_code for r in responses)
    assert len({r.url for r in admitted}) == 100
    assert Counter(Participant.objects.values_list("condition__name", flat=True)) == {"a": 50, "b": 50}


@pytest.mark.django_db(transaction=True)
def test_200_simultaneous_first_visits_with_one_external_id_make_one_participation():
    study = make_study("ipd")
    responses = join_at_once(study, [{"PROLIFIC_PID": "same"}] * JOINS)
    participant = Participant.objects.get()
    assert {(r.status_code, r.url) for r in responses} == {(302, f"/p/{participant.token}/")}
