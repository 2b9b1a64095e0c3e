"""A participant in headless Chromium, from the study link to the debrief, by clicking: consent, the
comprehension check (one wrong try first), a whole IPD and a whole trust game with a reload in
the middle (the page resumes at the same trial), the debrief; then the stored trials must be the
clicks, in order. The same flow on a 390x844 phone screen must never scroll sideways, and neither
may a whole bandit or go/no-go game played there by tapping. Back from the debrief shows the
debrief. A go/no-go game with a practice block and breaks is played by keyboard, with a reload
during a break, and nothing on its screen moves when a result appears.

Fixtures (live server, browser, screenshots) are in conftest.py; skipped without /usr/bin/chromium.
"""

import contextlib
import json
import re
import sqlite3
from contextlib import closing

import pytest

pytestmark = pytest.mark.slow  # a browser, a server and whole games: several seconds each

TIMEOUT_MS = 10_000
UNIT = {"ipd": "Round", "trust": "Round", "bandit": "Trial", "gonogo": "Trial"}

GNG_WITHHOLD, GNG_RESPOND = 0, 1  # go/no-go's participant actions (shaping_core/games/gonogo.py)

# The participant's choices, by game: IPD button names, trust amounts (an int typed in the box,
# or "max": the slider's End key).
IPD_CLICKS = ["C", "C", "D", "C", "D"]
TRUST_CLICKS = [3, "max", 0, 12]


def new_page(browser, phone: bool):
    if phone:
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                      is_mobile=True, has_touch=True)
    else:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    return page


def press(page, locator, phone: bool):
    """What a finger or a mouse does to a control."""
    if phone:
        locator.tap()
    else:
        locator.click()


def no_sideways_scroll(page, stage: str):
    widths = page.evaluate("""() => {
        const wide = [...document.querySelectorAll("body *")]
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5)
            .map(el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
                       (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : ""));
        return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth, wide: wide.slice(0, 8)};
    }""")
    assert widths["scroll"] <= widths["inner"], f"{stage}: the page scrolls sideways: {widths}"


def join_and_pass_the_check(page, server, game, shots, phone):
    """From the study link to the game screen; returns the participant's token."""
    study = server.studies[game]
    page.goto(f"{server.base_url}/s/{study['slug']}/")
    press(page, page.get_by_role("button", name="Start", exact=True), phone)
    page.wait_for_selector("#consent-title")
    assert re.fullmatch(rf"{re.escape(server.base_url)}/p/[^/]+/", page.url), page.url
    token = page.url.rstrip("/").rsplit("/", 1)[-1]
    shots(page, "consent")
    if phone:
        no_sideways_scroll(page, "consent")
    press(page, page.get_by_label("I agree to take part"), phone)
    press(page, page.get_by_role("button", name="Continue", exact=True), phone)

    page.wait_for_selector("#instructions-title")
    shots(page, "instructions")
    if phone:
        no_sideways_scroll(page, "instructions")
    answers = study["answers"]
    if not phone:  # one wrong try: the check says so and keeps the participant here
        press(page, page.locator(f"label[for=q0-{(answers[0] + 1) % 2}]"), phone)
        for i, answer in enumerate(answers[1:], start=1):
            press(page, page.locator(f"label[for=q{i}-{answer}]"), phone)
        press(page, page.get_by_role("button", name="Start the game"), phone)
        page.wait_for_selector("#check-errors")
        assert "Question 1 is not right yet" in page.inner_text("#check-errors")
        shots(page, "check-failed")
    for i, answer in enumerate(answers):
        press(page, page.locator(f"label[for=q{i}-{answer}]"), phone)
    press(page, page.get_by_role("button", name="Start the game"), phone)
    return token


def wait_for_trial(page, game, trial, rounds):
    """The screen shows `trial` (0-based) and takes a choice."""
    page.locator("#game-progress").filter(has_text=re.compile(rf"^{UNIT[game]} {trial + 1} of {rounds}$")).wait_for()
    control = ".choice" if game == "ipd" else ".invest-form button"
    page.locator(f"{control}[aria-disabled=false]").first.wait_for()


def ipd_round(page, choice, phone):
    name = {"C": "Cooperate", "D": "Defect"}[choice]
    press(page, page.get_by_role("button", name=name, exact=True), phone)


def trust_round(page, amount, phone):
    if amount == "max":  # the slider, by keyboard
        page.locator("#invest-range").focus()
        page.keyboard.press("End")
    else:
        page.locator("#invest-number").fill(str(amount))
    press(page, page.get_by_role("button", name="Invest"), phone)


def play(page, game, clicks, rounds, shots, phone, reload_at=None):
    """Play every round; reload the page before trial `reload_at` and check it resumes there.
    Returns the participant action indices clicked."""
    actions = []
    for trial, click in enumerate(clicks):
        wait_for_trial(page, game, trial, rounds)
        if trial == 0:
            shots(page, "first-trial")
            if phone:
                no_sideways_scroll(page, "play")
        if trial == reload_at:
            assert trial > 0
            shots(page, f"before-reload-trial-{trial + 1}")
            page.reload()
            wait_for_trial(page, game, trial, rounds)
            # The last result is shown again, and the trust slider starts at the last investment.
            page.locator(".feedback-title").filter(has_text=f"Round {trial} result").wait_for()
            if game == "trust":
                assert page.input_value("#invest-number") == str(actions[-1])
            shots(page, f"after-reload-trial-{trial + 1}")
            if phone:
                no_sideways_scroll(page, "play after reload")
        if game == "ipd":
            ipd_round(page, click, phone)
            actions.append(["C", "D"].index(click))
        else:
            trust_round(page, click, phone)
            actions.append(20 if click == "max" else click)
        if trial == 1:
            page.locator(".feedback-title").filter(has_text="Round 2 result").wait_for()
            shots(page, "result-shown")
            if phone:
                no_sideways_scroll(page, "play with a result")
    page.wait_for_selector("#debrief-title")
    shots(page, "debrief")
    if phone:
        no_sideways_scroll(page, "debrief")
    return actions


def check_stored(server, page, token, game, actions):
    stored = server.participant(token)
    assert stored["status"] == "completed" and stored["game"] == game
    trials = stored["trials"]
    assert [t["index"] for t in trials] == list(range(len(actions)))
    assert [t["participant_action"] for t in trials] == actions
    # Go/no-go: a withheld response has no reaction time; every press has one.
    timed = [t for t in trials if not (game == "gonogo" and t["participant_action"] == GNG_WITHHOLD)]
    assert all(t["reaction_time_ms"] is not None and t["reaction_time_ms"] > 0 for t in timed), trials
    assert all(t["reaction_time_ms"] is None for t in trials if t not in timed), trials
    shown = float(page.locator(".earnings dd").first.inner_text())
    assert shown == pytest.approx(round(sum(t["participant_reward"] for t in trials), 2))
    assert page.inner_text("#completion-code") == "CODE-123"


@contextlib.contextmanager
def participant_page(browser, shots, phone: bool):
    """A fresh page; on any failure a last screenshot, and the page's errors must stay empty."""
    page = new_page(browser, phone)
    try:
        yield page
        assert page.errors == [], page.errors
    except Exception:
        shots(page, "failure")
        raise
    finally:
        page.context.close()


def run_flow(browser, daphne_server, shots, game, phone, reload_at):
    with participant_page(browser, shots, phone) as page:
        token = join_and_pass_the_check(page, daphne_server, game, shots, phone)
        clicks = IPD_CLICKS if game == "ipd" else TRUST_CLICKS
        assert len(clicks) == daphne_server.studies[game]["rounds"]
        actions = play(page, game, clicks, len(clicks), shots, phone, reload_at=reload_at)
        check_stored(daphne_server, page, token, game, actions)


@pytest.mark.parametrize("game", ["ipd", "trust"])
def test_participant_plays_a_whole_game_by_clicking_and_resumes_after_a_reload(browser, daphne_server, shots, game):
    run_flow(browser, daphne_server, shots, game, phone=False, reload_at=2)


@pytest.mark.parametrize("game", ["ipd", "trust"])
def test_phone_screen_never_scrolls_sideways(browser, daphne_server, shots, game):
    run_flow(browser, daphne_server, shots, game, phone=True, reload_at=3)


def test_back_from_the_debrief_shows_the_debrief_not_the_failed_check(browser, daphne_server, shots):
    """The check is failed once on the way (join_and_pass_the_check); Back from the debrief must
    not bring its page, error banner and all, out of the browser's cache."""
    with participant_page(browser, shots, phone=False) as page:
        join_and_pass_the_check(page, daphne_server, "ipd", shots, phone=False)
        play(page, "ipd", IPD_CLICKS, len(IPD_CLICKS), shots, phone=False)
        page.go_back()
        page.wait_for_load_state()
        shots(page, "after-back")
        assert page.locator("#check-errors").count() == 0
        assert page.locator("#debrief-title").count() == 1, page.url


# ---- bandit and go/no-go, on a phone, by tapping ------------------------------------------------


def wait_for_progress(page, game, trial, rounds):
    page.locator("#game-progress").filter(has_text=re.compile(rf"^{UNIT[game]} {trial + 1} of {rounds}$")).wait_for()


def tap_bandit(page, rounds, shots, actions_names):
    """Open a box every trial, left and right in turn; returns the action indices tapped."""
    actions = []
    for trial in range(rounds):
        wait_for_progress(page, "bandit", trial, rounds)
        boxes = page.locator(".boxes .choice")
        page.locator(".boxes .choice[aria-disabled=false]").first.wait_for()
        assert boxes.count() == 2
        if trial == 0:
            shots(page, "first-trial")
            no_sideways_scroll(page, "play")
        box = boxes.nth(trial % 2)
        actions.append(actions_names.index(box.get_attribute("data-choice")))
        box.tap()
        if trial == 1:
            page.locator(".feedback").filter(has_text=re.compile(r"^Trial 2: you opened the (left|right) box")).wait_for()
            page.locator(".boxes .choice.found, .boxes .choice.empty").wait_for()
            shots(page, "result-shown")
            no_sideways_scroll(page, "play with a result")
    return actions


def tap_gonogo(page, rounds, shots):
    """Tap the press area on every stimulus, go or no-go (a no-go tap is a commission error, which
    the debrief's points must then reflect); returns the actions that must be stored. Tapping
    whatever is shown keeps the test independent of how fast a loaded machine reads the stimulus's
    colour; the study's 3 s response window absorbs a slow tap. Screenshots are taken where they
    cannot delay a tap: the ready screen, the fixation cross, a result and the debrief."""
    press = page.locator(".gng-press")
    for trial in range(rounds):
        wait_for_progress(page, "gonogo", trial, rounds)
        if trial == rounds - 1:  # before the last trial, whose result leads on to the debrief
            still_in_place(page, "a narrow screen")
        if trial == 0:  # the first trial waits for a tap on the press area
            page.locator(".gng-message").filter(has_text="Ready?").wait_for()
            shots(page, "ready")
            no_sideways_scroll(page, "ready to start")
            press.tap()
            page.wait_for_selector(".gng-fixation")
            shots(page, "first-trial-fixation")
            no_sideways_scroll(page, "fixation")
        page.wait_for_selector(".gng-stimulus")
        press.tap()
        result = page.locator(".gng-message.is-good, .gng-message.is-bad")
        result.wait_for()
        assert "too slow" not in result.inner_text(), f"trial {trial + 1}: {result.inner_text()}"
        if trial == 0:  # after the response, so that the check cannot delay the tap
            no_sideways_scroll(page, "play")
        if trial == 1:
            shots(page, "result-shown")
            no_sideways_scroll(page, "play with a result")
    return [GNG_RESPOND] * rounds


def run_tapping_flow(browser, daphne_server, shots, game):
    with participant_page(browser, shots, phone=True) as page:
        page.context.add_init_script(RECORD_LAYOUT)
        token = join_and_pass_the_check(page, daphne_server, game, shots, phone=True)
        study = daphne_server.studies[game]
        rounds = study["rounds"]
        if game == "bandit":
            actions = tap_bandit(page, rounds, shots, study["actions"])
        else:
            actions = tap_gonogo(page, rounds, shots)
        page.wait_for_selector("#debrief-title")
        shots(page, "debrief")
        no_sideways_scroll(page, "debrief")
        assert len(actions) == rounds
        check_stored(daphne_server, page, token, game, actions)


@pytest.mark.parametrize("game", ["bandit", "gonogo"])
def test_phone_screen_plays_by_tapping_without_scrolling_sideways(browser, daphne_server, shots, game):
    run_tapping_flow(browser, daphne_server, shots, game)


# ---- go/no-go with a practice block and breaks, by keyboard --------------------------------------

PRACTICE_TRIALS, GAME_TRIALS, BREAK_EVERY = 3, 6, 3
SETUP_PRACTICE_STUDY = f"""
import json, sys
sys.path.insert(0, "tests")
from helpers import make_study
study = make_study("gonogo", params={{"trials": {GAME_TRIALS}, "nogo_trials": 2, "response_window_ms": 3000}},
                   practice_trials={PRACTICE_TRIALS}, break_every_trials={BREAK_EVERY})
print(json.dumps({{"slug": study.slug, "answers": [q["answer"] for q in study.comprehension_questions]}}))
"""

# Records the go/no-go screen's layout after every change to it (a MutationObserver runs before the
# next paint): where the press button and the result line are, and how tall the page is.
RECORD_LAYOUT = """
window.addEventListener("DOMContentLoaded", () => {
  const screen = document.getElementById("game-screen");
  if (!screen) return;
  window.gngLayouts = [];
  new MutationObserver(() => {
    const press = document.querySelector(".gng-press"), line = document.querySelector(".game-body .feedback");
    const core = window.shapingLab, practice = document.getElementById("practice-note");
    if (!press || !line || !core || core.paused || core.finished || !practice.hidden) return;  // the game's trials
    const box = (el) => { const r = el.getBoundingClientRect(); return [r.top + scrollY, r.height]; };
    window.gngLayouts.push({press: box(press), line: box(line), page: document.documentElement.scrollHeight,
                            result: line.textContent !== ""});
  }).observe(screen, {subtree: true, childList: true, characterData: true});
});
"""


def stored_blocks(database_path, token):
    """(practice, index, participant_action, participant_reward) of every row, in play order."""
    with closing(sqlite3.connect(f"file:{database_path}?mode=ro", uri=True)) as db:
        return db.execute("SELECT t.practice, t.\"index\", t.participant_action, t.participant_reward "
                          "FROM play_trial t JOIN studies_participant p ON p.id = t.participant_id "
                          "WHERE p.token = ? ORDER BY t.practice DESC, t.\"index\"", (token,)).fetchall()


def still_in_place(page, stage):
    """The go/no-go screen never moved while the game was played: one layout, with and without a
    result showing."""
    layouts = page.evaluate("window.gngLayouts")
    assert any(l["result"] for l in layouts) and any(not l["result"] for l in layouts), stage
    different = {(tuple(l["press"]), tuple(l["line"]), l["page"]) for l in layouts}
    assert len(different) == 1, f"{stage}: the screen moved: {different}"


def key_trial(page, practice, trial, of):
    """Answer the trial by pressing the space bar on its stimulus; wait for its result line."""
    name = "Practice trial" if practice else "Trial"
    page.locator("#game-progress").filter(has_text=re.compile(rf"^{name} {trial + 1} of {of}$")).wait_for()
    page.wait_for_selector(".gng-stimulus")
    page.keyboard.press("Space")
    page.locator(".game-body .feedback").filter(has_text=re.compile(rf"^{name} {trial + 1}: ")).wait_for()


def wait_for_pause(page, title):
    page.locator("#pause-title").filter(has_text=title).wait_for()
    assert page.evaluate("document.activeElement.id") == "pause-continue"  # ready for the keyboard
    assert page.locator(".gng-press").is_hidden()


def test_go_nogo_practice_then_breaks_by_keyboard_with_a_reload_during_a_break(browser, daphne_server, shots):
    setup = daphne_server.manage_ok("shell", "-c", SETUP_PRACTICE_STUDY)
    daphne_server.studies["gonogo-practice"] = json.loads(setup.strip().splitlines()[-1])
    with participant_page(browser, shots, phone=False) as page:
        page.context.add_init_script(RECORD_LAYOUT)
        token = join_and_pass_the_check(page, daphne_server, "gonogo-practice", shots, phone=False)
        page.locator(".gng-message").filter(has_text="Ready?").wait_for()
        assert page.inner_text("#game-progress") == f"Practice trial 1 of {PRACTICE_TRIALS}"
        assert page.locator("#practice-note").is_visible()
        shots(page, "practice-ready")
        page.keyboard.press("Space")
        for trial in range(PRACTICE_TRIALS):
            key_trial(page, True, trial, PRACTICE_TRIALS)
        assert page.inner_text(".game-total-value") == "0"  # practice earns nothing

        wait_for_pause(page, "The practice is over")
        shots(page, "practice-over")
        page.keyboard.press("Enter")
        for trial in range(BREAK_EVERY):
            key_trial(page, False, trial, GAME_TRIALS)
        assert page.locator("#practice-note").is_hidden()

        wait_for_pause(page, "Time for a short break")
        still_in_place(page, "before the break")
        shots(page, "break")
        before = stored_blocks(daphne_server.database_path, token)
        page.reload()
        wait_for_pause(page, "Time for a short break")  # a reload keeps the break, at the same trial
        assert page.inner_text("#game-progress") == f"Trial {BREAK_EVERY + 1} of {GAME_TRIALS}"
        assert stored_blocks(daphne_server.database_path, token) == before
        page.keyboard.press("Space")
        for trial in range(BREAK_EVERY, GAME_TRIALS):
            if trial == GAME_TRIALS - 1:  # before the last trial, whose result leads on to the debrief
                still_in_place(page, "after the break")
            key_trial(page, False, trial, GAME_TRIALS)
        page.wait_for_selector("#debrief-title")
        shots(page, "debrief")

        rows = stored_blocks(daphne_server.database_path, token)
        practice = [r for r in rows if r[0]]
        game = [r for r in rows if not r[0]]
        assert [r[1] for r in practice] == list(range(PRACTICE_TRIALS))
        assert [r[1] for r in game] == list(range(GAME_TRIALS))  # none skipped, none twice
        assert all(r[2] == GNG_RESPOND for r in rows)
        shown = float(page.locator(".earnings dd").first.inner_text())
        assert shown == pytest.approx(sum(r[3] for r in game))  # the game's points only
