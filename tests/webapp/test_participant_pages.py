"""Consent, instructions with comprehension check, play page and debrief, as a browser posts them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.html import strip_tags

from helpers import make_player
from webapp.play.services import play_start, trial_submit
from webapp.studies.models import Participant
from webapp.studies.services import ExternalIds, participant_consent, participant_join, study_set_status


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
    response = client.post(page(joined), {"step": "consent"}, follow=True)
    assert response.redirect_chain == [(page(joined), 302)]  # Post/Redirect/Get
    assert b"Please tick the box to agree" in response.content
    joined.refresh_from_db()
    assert joined.status == Participant.Status.CONSENT
    assert b"Please tick the box" not in client.get(page(joined)).content  # shown once


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
    response = client.post(page(joined), {"step": "comprehension", **wrong}, follow=True)
    assert response.redirect_chain == [(page(joined), 302)]  # Post/Redirect/Get
    assert response.context["wrong"] == list(range(1, len(questions) + 1))
    assert response.context["answers"] == {i: int(wrong[f"q{i}"]) for i in range(len(questions))}
    assert b'id="check-errors"' in response.content
    response = client.post(page(joined), {"step": "comprehension"}, follow=True)
    assert response.context["unanswered"] and b'id="check-errors"' in response.content
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


# ---- time limits and Close, on the participant's page ------------------------------------------


def _age(participant, minutes, field):
    Participant.objects.filter(pk=participant.pk).update(**{field: timezone.now() - timedelta(minutes=minutes)})


def test_a_participant_past_the_start_limit_is_told_their_place_went_to_someone_else(client, study_factory):
    study = study_factory("ipd", start_time_limit_minutes=30)
    participant, _ = participant_join(study=study, external=ExternalIds(participant="slow"))
    _age(participant, 31, "joined_at")
    response = client.get(page(participant))
    assert response.templates[0].name == "play/timed_out.html"
    text = " ".join(response.content.decode().split())
    assert "not started within this study's time limit" in text and "gone to someone else" in text
    assert "return the study" in text and "CODE-123" not in text  # no completion code, no pay
    participant.refresh_from_db()
    assert participant.status == Participant.Status.TIMED_OUT and participant.ended_at is not None
    # A late form post changes nothing: the page stays the timed-out page.
    client.post(page(participant), {"step": "consent", "agree": "yes"})
    participant.refresh_from_db()
    assert participant.status == Participant.Status.TIMED_OUT


def test_an_idle_player_is_timed_out_when_they_come_back(client, study_factory):
    study = study_factory("ipd", idle_time_limit_minutes=10)
    player = make_player(study)
    _age(player, 11, "last_seen_at")
    response = client.get(page(player))
    assert response.templates[0].name == "play/timed_out.html"
    assert b"no move in the game for longer than" in " ".join(response.content.decode().split()).encode()
    player.refresh_from_db()
    assert player.status == Participant.Status.TIMED_OUT


def test_a_game_ended_by_the_close_shows_the_debrief_with_the_points_so_far(client, study_factory):
    study = study_factory("ipd", close_grace_minutes=0, money_per_point=Decimal("0.10"))
    player = make_player(study)
    live = play_start(participant=player)
    for trial in range(2):
        live = trial_submit(participant=player, live=live, trial_index=trial, action=0, reaction_time_ms=400).live
    study_set_status(study=study, action="close")
    response = client.get(page(player))
    assert response.templates[0].name == "play/debrief.html"
    text = " ".join(response.content.decode().split())
    assert "The study has closed, so your game ended early" in text
    points = sum(t.participant_reward for t in player.trials.filter(participant_action__isnull=False))
    assert points > 0 and response.context["earnings"].points == points
    assert "CODE-123" in text  # they are paid for the points they earned


def test_a_completed_game_does_not_say_it_ended_early(client, study_factory):
    study = study_factory("ipd", close_grace_minutes=0)
    player = make_player(study)
    live = play_start(participant=player)
    for trial in range(player.episode_length):
        live = trial_submit(participant=player, live=live, trial_index=trial, action=0, reaction_time_ms=400).live
    study_set_status(study=study, action="close")
    response = client.get(page(player))
    assert response.templates[0].name == "play/debrief.html" and b"ended early" not in response.content


# ---- Back from the debrief -----------------------------------------------------------------------


def test_participant_pages_are_never_cached_so_back_fetches_the_current_step(client, joined):
    """A failed check is answered with a redirect (Post/Redirect/Get) and no page may be stored: the
    browser's history then holds only GETs of /p/<token>/, which Back fetches afresh."""
    for response in (client.get(page(joined)), client.post(page(joined), {"step": "consent", "agree": "yes"})):
        assert "no-store" in response["Cache-Control"]
    questions = joined.study.comprehension_questions
    wrong = {f"q{i}": str((q["answer"] + 1) % len(q["choices"])) for i, q in enumerate(questions)}
    assert client.post(page(joined), {"step": "comprehension", **wrong}).status_code == 302
    right = {f"q{i}": str(q["answer"]) for i, q in enumerate(questions)}
    client.post(page(joined), {"step": "comprehension", **right})
    joined.refresh_from_db()
    live = play_start(participant=joined)
    for trial in range(joined.episode_length):
        live = trial_submit(participant=joined, live=live, trial_index=trial, action=0, reaction_time_ms=400).live
    back = client.get(page(joined))  # what Back fetches
    assert back.templates[0].name == "play/debrief.html" and b"check-errors" not in back.content
    assert "no-store" in back["Cache-Control"]


# ---- practice and breaks in the instructions ------------------------------------------------------


def test_instructions_announce_the_practice_block_and_the_breaks(client, study_factory):
    study = study_factory("gonogo", practice_trials=4, break_every_trials=5)
    participant, _ = participant_join(study=study, external=ExternalIds())
    participant_consent(participant=participant, agreed=True)
    text = " ".join(strip_tags(client.get(page(participant)).content.decode()).split())
    assert "starts with 4 practice trials" in text and "earn no points" in text
    assert "Every 5 trials the game pauses for a short break" in text


def test_a_practice_block_is_not_announced_for_a_game_without_one(client, study_factory):
    study = study_factory("ipd")
    type(study).objects.filter(pk=study.pk).update(practice_trials=4)  # around the form, which refuses it
    study.refresh_from_db()
    participant, _ = participant_join(study=study, external=ExternalIds())
    participant_consent(participant=participant, agreed=True)
    assert b"practice" not in client.get(page(participant)).content


# ---- the root page and unknown addresses ----------------------------------------------------------


def test_the_root_address_shows_a_neutral_page(client, db):
    response = client.get("/")
    text = " ".join(response.content.decode().split())
    assert response.status_code == 200
    assert "If you are taking part in a study, please use the link you were given." in text
    assert 'href="/admin/"' in text


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("path", ["/nope/", "/p/unknown-token/", "/s/no-such-study/"])
def test_a_mistyped_address_shows_a_friendly_404_and_never_the_url_patterns(client, db, settings, debug, path):
    settings.DEBUG = debug
    response = client.get(path)
    assert response.status_code == 404
    text = response.content.decode()
    assert "Page not found" in text and "please open the link you were given again" in text
    for technical in ("URLconf", "URL patterns", "p/&lt;str:token&gt;/", "admin/", "Raised by"):
        assert technical not in text, technical


def test_the_admin_keeps_djangos_404_for_researchers(client, db, settings):
    settings.DEBUG = True
    response = client.get("/admin/no-such-page/")
    assert response.status_code in (302, 404)  # the admin sends signed-out visitors to its login
    assert b"please open the link you were given" not in response.content
