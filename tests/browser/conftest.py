"""Browser tests: headless Chromium (the Debian package `chromium`, driven by Playwright's Python
package; no `playwright install`) against a real daphne server on a free loopback port with its
own throw-away SQLite database (helpers.LiveServer), whatever DATABASE_URL / REDIS_URL this run
uses. Without /usr/bin/chromium or the playwright package the tests are skipped, and `-ra` says why.

Screenshots of every stage go to test-artifacts/browser/<test>/<stage>.png (git-ignored).
"""

import json
import re
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from helpers import ROOT, LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts" / "browser"

# One study per game (each visit of the plain link is a new participant), small games so that a
# whole game takes seconds. Prints {game: {slug, answers, actions, rounds}} as its last line
# (`rounds`: the number of trials, whatever the game calls them).
SETUP_STUDIES = """
import json, sys
from decimal import Decimal
sys.path.insert(0, "tests")
from helpers import make_study
out = {}
for game, params in (("ipd", {"rounds": 5}), ("trust", {"rounds": 4}),
                     ("bandit", {"trials": 6, "rewards_per_option": 2}),
                     ("gonogo", {"trials": 6, "nogo_trials": 2, "response_window_ms": 3000})):
    study = make_study(game, params=params, money_per_point=Decimal("0.05"),
                       show_up_fee=Decimal("1.50"))
    out[game] = {"slug": study.slug, "rounds": params.get("rounds", params.get("trials")),
                 "answers": [q["answer"] for q in study.comprehension_questions],
                 "actions": list(study.make_game().spec.participant_actions)}
print(json.dumps(out))
"""



def read_participant(database_path: Path, token: str) -> dict:
    """What the server's database holds about one participant: status, game and trials in order.
    (Read with sqlite3, not `manage.py shell`, which would cost seconds a test.)"""
    with closing(sqlite3.connect(f"file:{database_path}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        participant = db.execute("SELECT p.id, p.status, s.game FROM studies_participant p "
                                 "JOIN studies_study s ON s.id = p.study_id WHERE p.token = ?", (token,)).fetchone()
        assert participant is not None, f"no participant with token {token}"
        trials = db.execute("SELECT \"index\", participant_action, participant_reward, reaction_time_ms "
                            "FROM play_trial WHERE participant_id = ? ORDER BY \"index\"",
                            (participant["id"],)).fetchall()
    return {"status": participant["status"], "game": participant["game"], "trials": [dict(t) for t in trials]}


@pytest.fixture(scope="module")
def chromium_executable():
    if not CHROMIUM.exists():
        pytest.skip(f"chromium not found at {CHROMIUM}: install the Debian package chromium to run the browser tests")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright Python package is not installed (it is in requirements.txt: run `make install`)")
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def daphne_server(chromium_executable, tmp_path_factory):
    """A started LiveServer, with one small study per game: `.studies[game]`."""
    server = LiveServer(tmp_path_factory.mktemp("browser-server")).start(setup=SETUP_STUDIES)
    try:
        server.studies = json.loads(server.setup_output.strip().splitlines()[-1])
        server.participant = lambda token: read_participant(server.database_path, token)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(chromium_executable):
    # Module scope: Playwright's sync API runs its own event loop; it is stopped before the
    # asyncio tests of other modules run.
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=chromium_executable, headless=True,
                                             args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()


class Shots:
    """Screenshots of one test, test-artifacts/browser/<test>/<stage>.png, numbered in order."""

    def __init__(self, directory: Path):
        self.directory = directory
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        self.count = 0

    def __call__(self, page, stage: str) -> Path:
        self.count += 1
        path = self.directory / f"{self.count:02d}-{stage}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(request):
    return Shots(ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name))
