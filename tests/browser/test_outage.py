"""The database goes away while a participant plays in Chromium: the page says it is reconnecting,
keeps the choice, and once the database is back the choice is stored once and play goes on.

The production server (two workers) on a throw-away PostgreSQL database reached through a proxy
that the test cuts (tests/tcp_proxy.py). Skipped without chromium, PostgreSQL or Redis.
"""

import json
import re

import pytest

from helpers import LiveServer
from tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

TIMEOUT_MS = 20_000
SETUP = """
import json, sys
sys.path.insert(0, "tests")
from helpers import make_study
study = make_study("ipd", params={"rounds": 4})
print(json.dumps({"slug": study.slug, "answers": [q["answer"] for q in study.comprehension_questions]}))
"""
STORED = """
import json
from webapp.studies.models import Participant
p = Participant.objects.get(token="{token}")
print(json.dumps([[t.index, t.participant_action] for t in p.trials.order_by("index")]))
"""


def test_the_page_retries_while_the_database_is_away_and_loses_nothing(
        browser, shots, tmp_path, postgres_url, redis_url):
    with TcpProxy(postgres_url) as proxy:
        server = LiveServer(tmp_path, workers=2, database_url=proxy.url, redis_url=redis_url).start(setup=SETUP)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        js_errors = []
        page.on("pageerror", lambda error: js_errors.append(str(error)))
        try:
            study = json.loads(server.setup_output.strip().splitlines()[-1])
            page.goto(f"{server.base_url}/s/{study['slug']}/")
            page.get_by_role("button", name="Start", exact=True).click()
            page.wait_for_selector("#consent-title")
            token = page.url.rstrip("/").rsplit("/", 1)[-1]
            page.get_by_label("I agree to take part").click()
            page.get_by_role("button", name="Continue", exact=True).click()
            for i, answer in enumerate(study["answers"]):
                page.locator(f"label[for=q{i}-{answer}]").click()
            page.get_by_role("button", name="Start the game").click()
            page.locator(".choice[aria-disabled=false]").first.wait_for()

            proxy.cut()
            page.get_by_role("button", name="Cooperate", exact=True).click()
            banner = page.locator("#connection-banner")
            banner.filter(has_text=re.compile("Reconnecting")).wait_for()
            shots(page, "database-away")
            proxy.restore()

            page.locator("#game-progress").filter(has_text=re.compile(r"^Round 2 of 4$")).wait_for()
            page.locator(".choice[aria-disabled=false]").first.wait_for()
            assert banner.is_hidden()
            shots(page, "database-back")
            page.get_by_role("button", name="Defect", exact=True).click()
            page.locator("#game-progress").filter(has_text=re.compile(r"^Round 3 of 4$")).wait_for()

            stored = json.loads(server.manage_ok("shell", "-c", STORED.format(token=token)).strip().splitlines()[-1])
            completed = [[index, action] for index, action in stored if action is not None]
            assert completed == [[0, 0], [1, 1]], stored  # Cooperate once, then Defect: nothing twice
            assert js_errors == []
        except Exception:
            shots(page, "failure")
            raise
        finally:
            context.close()
            server.stop()
