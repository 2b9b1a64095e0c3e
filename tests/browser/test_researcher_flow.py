"""A researcher's first day, in headless Chromium against a real server: sign in as a member of the
Researchers group; create a study with two conditions (the menus offer only the chosen game's
adversaries); save, edit and save again; launch with the button (a link preview of the shared link
then takes no place); preview as a test participant and delete them; a mistyped link shows the
friendly 404; let two participants play (one finishes, one stays mid-game) while the Monitor's
participant table updates; close the study, which ends the game in progress as documented (no grace
period here: at once, with the debrief and the points so far); download the trials, the participants
and the bonus file and check them; duplicate the study.

Fixtures (browser, screenshots) are in conftest.py; skipped without /usr/bin/chromium.
"""

import csv
import io
import json
import re
import sqlite3
from contextlib import closing

import pytest

from helpers import LiveServer

pytestmark = pytest.mark.slow  # a browser, a server and two whole participants: tens of seconds

TIMEOUT_MS = 15_000
MONITOR_POLL_MS = 5_000  # the Monitor page's polling interval (templates/admin/studies/study/monitor.html)
ROUNDS = 3
SETUP_RESEARCHER = """
from django.contrib.auth.models import Group, User
user = User.objects.create_user("ada", password="lovelace-1843", is_staff=True)
user.groups.add(Group.objects.get(name="Researchers"))
"""


@pytest.fixture(scope="module")
def server(chromium_executable, tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("researcher-server")).start(setup=SETUP_RESEARCHER)
    try:
        yield server
    finally:
        server.stop()


def database(server, query, *args):
    with closing(sqlite3.connect(f"file:{server.database_path}?mode=ro", uri=True)) as db:
        return db.execute(query, args).fetchall()


def sign_in(page, server):
    page.goto(f"{server.base_url}/admin/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("lovelace-1843")
    page.get_by_role("button", name="Log in").click()
    page.locator("#studies-study").wait_for()  # the Researchers group sees the Studies admin


def create_study(page, server, shots):
    page.goto(f"{server.base_url}/admin/studies/study/add/")
    page.locator("#id_name").fill("First day")
    page.locator("#id_game").select_option("ipd")
    page.locator("#id_game_params").fill(json.dumps({"rounds": ROUNDS}))
    page.locator("#id_money_per_point").fill("0.1")
    page.locator("#id_close_grace_minutes").fill("0")
    # Only the IPD's adversaries are offered once the game is chosen.
    offered = page.locator("#id_conditions-0-adversary option:not([hidden])").evaluate_all(
        "options => options.map(o => o.value)")
    assert "tit_for_tat" in offered and "random_schedule" not in offered and "fixed_fraction" not in offered, offered
    page.locator("#id_conditions-0-name").fill("tft")
    page.locator("#id_conditions-0-adversary").select_option("tit_for_tat")
    page.locator("#conditions-group .add-row a").click()  # Django's inline "Add another Condition"
    page.locator("#id_conditions-1-name").fill("alld")
    page.locator("#id_conditions-1-adversary").select_option("always_defect")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, f"the add page is {width} px wide at 1280"
    shots(page, "add-study")
    page.get_by_role("button", name="Save and continue editing").click()
    page.locator(".messagelist .success").wait_for()
    assert page.locator("#study-status").inner_text() == "Draft"
    return page.url


def edit_and_save_again(page, shots):
    page.locator("#id_name").fill("First day (pilot)")
    page.get_by_role("button", name="Save and continue editing").click()
    page.locator(".messagelist .success").wait_for()
    assert page.locator("#id_name").input_value() == "First day (pilot)"
    assert not page.locator(".errornote").count()
    shots(page, "saved-again")


def participant_link(page) -> str:
    return page.locator("#participant-link").input_value()


def play_round(page, trial, choice="Cooperate"):
    page.locator("#game-progress").filter(has_text=f"Round {trial + 1} of {ROUNDS}").wait_for()
    page.locator(".choice[aria-disabled=false]").first.wait_for()
    page.get_by_role("button", name=choice, exact=True).click()


def download(page, url) -> str:
    response = page.request.get(url)
    assert response.ok, (url, response.status)
    return response.text()


def test_a_researchers_first_day(server, browser, shots):
    admin = browser.new_context(viewport={"width": 1280, "height": 900})
    admin.set_default_timeout(TIMEOUT_MS)
    page = admin.new_page()
    failures = []  # script errors and failed loads (a missing stylesheet or script) on the admin pages
    page.on("pageerror", lambda error: failures.append(str(error)))
    page.on("response", lambda response: failures.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    sign_in(page, server)

    # 1-2. Create with two conditions, save, edit, save again.
    change_url = create_study(page, server, shots)
    edit_and_save_again(page, shots)
    slug = database(server, "SELECT slug FROM studies_study")[0][0]
    answers = json.loads(database(server, "SELECT comprehension_questions FROM studies_study")[0][0])

    # 3. Launch with the button under the Save buttons.
    page.get_by_role("button", name="Launch", exact=True).click()
    page.locator(".messagelist .success").filter(has_text="launch done").wait_for()
    assert page.locator("#study-status").inner_text() == "Live"
    link = participant_link(page)
    assert link == f"{server.base_url}/s/{slug}/"
    shots(page, "launched")
    # A chat app unfurling the shared link (HEAD, then GET) creates nobody and takes no place.
    assert page.request.head(link).ok and page.request.get(link).ok
    assert database(server, "SELECT COUNT(*) FROM studies_participant") == [(0,)]

    # 4. Preview as a test participant, in a new tab.
    with admin.expect_page() as preview_tab:
        page.get_by_role("button", name="Preview as a test participant").click()
    preview = preview_tab.value
    preview.locator("#consent-title").wait_for()
    preview.close()
    assert database(server, "SELECT is_test FROM studies_participant") == [(1,)]
    # As an owner, delete the test participant (with their trials, if any) from the admin.
    tester = database(server, "SELECT id FROM studies_participant")[0][0]
    page.goto(f"{server.base_url}/admin/studies/participant/{tester}/delete/")
    page.get_by_role("button", name=re.compile("Yes, I.m sure")).click()
    page.locator(".messagelist .success").filter(has_text="deleted successfully").wait_for()
    assert database(server, "SELECT COUNT(*) FROM studies_participant") == [(0,)]
    page.goto(change_url)

    # 5. Two participants, each in their own browser: one finishes, one stays mid-game.
    people = browser.new_context(viewport={"width": 1280, "height": 900})
    people.set_default_timeout(TIMEOUT_MS)
    # A mistyped link (under `make run`'s DEBUG too) gets the friendly page, never Django's URL list.
    lost = people.new_page()
    assert lost.goto(f"{link}x/").status == 404
    assert "URLconf" not in lost.content() and lost.locator("h1").inner_text() == "Page not found"
    lost.close()
    finisher = join_as(people, link, "PID-A", answers)
    for trial in range(ROUNDS):
        play_round(finisher, trial)
    finisher.locator("#debrief-title").wait_for()
    leaver = join_as(people, link, "PID-B", answers)
    play_round(leaver, 0)

    # 6. The Monitor's participant table: it lists both (not the preview) and follows the games.
    page.goto(f"{server.base_url}/admin/studies/study/{change_url.rstrip('/').split('/')[-2]}/monitor/")
    table = page.locator("#monitor-participants")
    assert table.locator("tr").count() == 2
    assert "Completed" in table.inner_text() and f"3 of {ROUNDS}" in table.inner_text()
    leaver_row = table.locator("tr").filter(has_text="Playing")
    leaver_row.filter(has_text=f"1 of {ROUNDS}").wait_for()
    play_round(leaver, 1)
    table.locator("tr").filter(has_text=f"2 of {ROUNDS}").wait_for(timeout=MONITOR_POLL_MS * 3)
    shots(page, "monitor")

    # 7. Close: with no grace period the game in progress ends, and its player gets the debrief with
    # the points earned so far.
    page.goto(change_url)
    page.get_by_role("button", name="Close", exact=True).click()
    page.locator(".messagelist .success").filter(has_text="close done").wait_for()
    assert page.locator("#study-status").inner_text() == "Closed"
    leaver.reload()
    leaver.locator("#debrief-title").wait_for()
    statuses = dict(database(server, "SELECT external_id, status FROM studies_participant WHERE is_test = 0"))
    assert statuses == {"PID-A": "completed", "PID-B": "ended_at_close"}

    # 8. Exports: trials, participants and the bonus file, as the buttons download them.
    points = dict(database(server, "SELECT p.external_id, SUM(t.participant_reward) FROM play_trial t "
                                   "JOIN studies_participant p ON p.id = t.participant_id "
                                   "WHERE p.is_test = 0 AND t.participant_action IS NOT NULL GROUP BY p.external_id"))
    trials = list(csv.DictReader(io.StringIO(download(page, f"{server.base_url}/studies/{slug}/export.csv"))))
    assert len(trials) == ROUNDS + 2 and {row["participant_status"] for row in trials} == {"completed", "ended_at_close"}
    participants = list(csv.DictReader(io.StringIO(
        download(page, f"{server.base_url}/studies/{slug}/participants.csv?external_ids=1"))))
    assert sorted(row["external_id"] for row in participants) == ["PID-A", "PID-B"]
    bonus = download(page, f"{server.base_url}/studies/{slug}/bonus.csv").splitlines()
    assert sorted(bonus) == sorted(f"{pid},{points[pid] * 0.1:.2f}" for pid in ("PID-A", "PID-B")
                                   if points[pid] > 0)

    # 9. Duplicate as a new draft.
    page.goto(change_url)
    page.get_by_role("button", name="Duplicate as a new draft").click()
    page.locator(".messagelist .success").filter(has_text="duplicated").wait_for()
    assert page.locator("#study-status").inner_text() == "Draft"
    assert page.locator("#id_name").input_value() == "Copy of First day (pilot)"
    assert page.locator("#id_conditions-1-name").input_value() == "alld"
    shots(page, "duplicated")
    assert failures == []
    admin.close()
    people.close()


def join_as(context, link, pid, questions):
    page = context.new_page()
    page.goto(f"{link}?PROLIFIC_PID={pid}&STUDY_ID=s&SESSION_ID=x")
    page.get_by_role("button", name="Start", exact=True).click()
    page.get_by_label("I agree to take part").click()
    page.get_by_role("button", name="Continue", exact=True).click()
    page.locator("#instructions-title").wait_for()
    for i, question in enumerate(questions):
        page.locator(f"label[for=q{i}-{question['answer']}]").click()
    page.get_by_role("button", name="Start the game").click()
    return page
