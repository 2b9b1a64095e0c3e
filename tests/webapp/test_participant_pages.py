"""Consent, instructions with comprehension check, play page and debrief, as a browser posts them."""

from decimal import Decimal

import pytest

from helpers import make_player
from webapp.play.services import play_start, trial_submit
from webapp.studies.models import Participant
from webapp.studies.services import ExternalIds, participant_consent, participant_join


@pytest.fixture
def joined(study_factory):
    study = study_factory("ipd", money_per_point=Decimal("0.05"), show_up_fee=Decimal("1.50"),
                          completion_redirect_url="https://example.org/done?cc=CODE-123")
    participant, _ = participant_join(study=study, external=ExternalIds(participant="abc"))
    return participant


def page(participant):
    return f"/p/{participant.token}/"


def test_consent_page_shows_the_text_and_needs_the_box_ticked(client, joined):
    response = client.get(page(joined))
    assert response.status_code == 200 and joined.study.consent_text[:40].encode() in response.content
    response = client.post(page(joined), {"step": "consent"})
    assert response.status_code == 400
    joined.refresh_from_db()
    assert joined.status == Participant.Status.CONSENT


def test_declining_ends_participation(client, joined):
    response = client.post(page(joined), {"step": "consent", "decline": "yes"}, follow=True)
    joined.refresh_from_db()
    assert joined.status == Participant.Status.DECLINED
    assert response.templates[0].name == "play/declined.html"


def test_comprehension_check_must_be_passed_before_playing(client, joined):
    client.post(page(joined), {"step": "consent", "agree": "yes"})
    joined.refresh_from_db()
    assert joined.status == Participant.Status.INSTRUCTIONS
    response = client.get(page(joined))
    assert b"Cooperate" in response.content or b"cooperate" in response.content
    questions = joined.study.comprehension_questions
    wrong = {f"q{i}": str((q["answer"] + 1) % len(q["choices"])) for i, q in enumerate(questions)}
    response = client.post(page(joined), wrong)
    assert response.status_code == 302  # no step: just shows the current page again
    response = client.post(page(joined), {"step": "comprehension", **wrong})
    assert response.status_code == 400 and response.context["wrong"] == list(range(1, len(questions) + 1))
    response = client.post(page(joined), {"step": "comprehension"})
    assert response.status_code == 400 and response.context["unanswered"]
    right = {f"q{i}": str(q["answer"]) for i, q in enumerate(questions)}
    client.post(page(joined), {"step": "comprehension", **right})
    joined.refresh_from_db()
    assert joined.status == Participant.Status.PLAYING and joined.comprehension_attempts == 2
    response = client.get(page(joined))
    assert response.templates[0].name == "play/play.html"
    assert f"/ws/play/{joined.token}/".encode() in response.content


def test_debrief_shows_earnings_bonus_and_completion_code(client, study_factory):
    study = study_factory("ipd", money_per_point=Decimal("0.05"), show_up_fee=Decimal("1.50"),
                          completion_redirect_url="https://example.org/done?cc=CODE-123")
    participant = make_player(study)
    live = play_start(participant=participant)
    for trial in range(participant.episode_length):
        live = trial_submit(participant=participant, live=live, trial_index=trial, action=0,
                            reaction_time_ms=500).live
    response = client.get(page(participant))
    earnings = response.context["earnings"]
    points = sum(t.participant_reward for t in participant.trials.all())
    assert earnings.points == points and earnings.bonus == (Decimal(str(points)) * Decimal("0.05")).quantize(
        Decimal("0.01"))
    assert earnings.total == earnings.bonus + Decimal("1.50")
    assert b"CODE-123" in response.content and b"https://example.org/done?cc=CODE-123" in response.content


def test_unknown_participant_page_is_404(client, db):
    assert client.get("/p/nope/").status_code == 404


@pytest.mark.parametrize("game, params, expected", [
    ("trust", {"endowment": 20, "multiplier": 3, "return_fractions": [0, 0.25, 0.5, 0.75, 1]},
     ["Say you send 10 of your 20 points and keep 10", "receives 30", "returns 50% of that, you get back 15",
      "10 + 15 = 25"]),
    ("trust", {"endowment": 15, "multiplier": 2.5, "return_fractions": [0, 0.333, 0.5]},
     ["Say you send 7 of your 15 points and keep 8", "receives 17.50", "33.3% of that, you get back 5.83",
      "8 + 5.83 = 13.83", "0%, 33.3% or 50%"]),
    ("ipd", {"continuation_probability": 0.875, "max_rounds": 60}, ["another follows with probability 0.875 (87.5%)"]),
])
def test_instructions_state_the_rules_of_this_study(client, study_factory, game, params, expected):
    study = study_factory(game, params=params)
    participant, _ = participant_join(study=study, external=ExternalIds())
    participant_consent(participant=participant, agreed=True)
    text = " ".join(client.get(page(participant)).content.decode().split())
    for fragment in expected:
        assert fragment in text, fragment
