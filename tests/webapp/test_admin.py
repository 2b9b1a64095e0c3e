"""Researchers create, validate, launch, pause, close and monitor studies in the admin."""

import pytest
from django.core.exceptions import ValidationError

from helpers import make_player
from webapp.play.services import play_start, trial_submit
from webapp.studies.models import Condition, Study


def add_form(**overrides):
    data = {
        "name": "Trust pilot", "slug": "trust-pilot", "game": "trust", "game_params": '{"rounds": 3}',
        "consent_text": "", "instructions": "", "comprehension_questions": "[]",
        "participant_cap_per_condition": "", "completion_code": "XYZ", "completion_redirect_url": "",
        "money_per_point": "0.01", "show_up_fee": "0", "currency": "GBP",
        "practice_trials": "0", "break_every_trials": "0", "start_time_limit_minutes": "30",
        "idle_time_limit_minutes": "10", "close_grace_minutes": "5",
        "conditions-TOTAL_FORMS": "1", "conditions-INITIAL_FORMS": "0",
        "conditions-MIN_NUM_FORMS": "0", "conditions-MAX_NUM_FORMS": "1000",
        "conditions-0-name": "half", "conditions-0-adversary": "fixed_fraction",
        "conditions-0-adversary_params": '{"fraction": 0.5}', "conditions-0-weight": "1",
    }
    data.update(overrides)
    return data


def test_a_study_is_created_in_the_admin_with_defaults_filled_in(admin_client):
    response = admin_client.post("/admin/studies/study/add/", add_form())
    assert response.status_code == 302, response.context["adminform"].errors if response.context else response
    study = Study.objects.get(slug="trust-pilot")
    assert study.status == Study.Status.DRAFT
    assert study.game_params == {"rounds": 3, "endowment": 20, "multiplier": 3.0,
                                 "return_fractions": [0.0, 0.25, 0.5, 0.75, 1.0]}
    assert study.instructions and study.comprehension_questions and study.consent_text
    assert study.conditions.get().adversary_params == {"fraction": 0.5}


@pytest.mark.parametrize("overrides, message", [
    ({"game_params": '{"rounds": 0}'}, "rounds must be at least 1"),
    ({"game_params": '{"endowment": "lots"}'}, "endowment must be a whole number"),
    ({"game_params": '{"colour": 1}'}, "unknown parameter(s) colour"),
    ({"comprehension_questions": '[{"question": "Q?", "choices": ["a"], "answer": 0}]'}, "at least two"),
    ({"conditions-0-adversary": "tit_for_tat", "conditions-0-adversary_params": "{}"}, "cannot play"),
    ({"conditions-0-adversary_params": '{"fraction": 0.3}'}, "fraction must be one of"),
])
def test_bad_parameters_get_a_clear_error_and_nothing_is_saved(admin_client, overrides, message):
    response = admin_client.post("/admin/studies/study/add/", add_form(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Study.objects.exists()


def test_launch_pause_close_from_the_change_page(admin_client, study_factory):
    study = study_factory("ipd", status="draft")
    status_url = f"/admin/studies/study/{study.pk}/status/"
    assert admin_client.get(status_url + "launch/").status_code == 405  # changes only by POST
    for action, expected in [("launch", "live"), ("pause", "paused"), ("launch", "live"), ("close", "closed")]:
        admin_client.post(status_url + f"{action}/")
        study.refresh_from_db()
        assert study.status == expected
    response = admin_client.post(status_url + "launch/", follow=True)
    assert "cannot launch" in response.content.decode().lower()
    study.refresh_from_db()
    assert study.status == "closed" and study.launched_at and study.closed_at


def test_a_study_without_conditions_cannot_launch(admin_client, study_factory):
    study = study_factory("ipd", status="draft")
    study.conditions.all().delete()
    response = admin_client.post("/admin/studies/study/", {"action": "launch", "_selected_action": [study.pk]},
                                 follow=True)
    assert "has no conditions" in response.content.decode()
    study.refresh_from_db()
    assert study.status == "draft"


def test_status_is_only_changed_by_the_admin_for_staff(client, study_factory):
    study = study_factory("ipd", status="draft")
    response = client.post(f"/admin/studies/study/{study.pk}/status/launch/")
    assert response.status_code == 302 and "/admin/login/" in response.url
    study.refresh_from_db()
    assert study.status == "draft"


def test_monitor_shows_participants_by_condition_and_status(admin_client, study_factory):
    study = study_factory("ipd", conditions=[("a", "tit_for_tat", {}, 1), ("b", "always_defect", {}, 1)])
    finished = make_player(study)
    live = play_start(participant=finished)
    for trial in range(finished.episode_length):
        live = trial_submit(participant=finished, live=live, trial_index=trial, action=0, reaction_time_ms=1).live
    make_player(study)
    response = admin_client.get(f"/admin/studies/study/{study.pk}/monitor/")
    assert response.status_code == 200
    rows = {s.name: s for s in response.context["summaries"]}
    assert rows["a"].by_status["Completed"] == 1 and rows["a"].trials == 5
    assert rows["b"].by_status["Playing"] == 1 and rows["b"].trials == 0
    assert response.context["totals"] == {"participants": 2, "trials": 5, "dropouts": 0}


def test_dropouts_are_unfinished_participants_not_seen_for_a_while(admin_client, study_factory, settings):
    from datetime import timedelta

    from django.utils import timezone

    study = study_factory("ipd", idle_time_limit_minutes=None)  # with a limit they would be timed out
    participant = make_player(study)
    type(participant).objects.filter(pk=participant.pk).update(
        last_seen_at=timezone.now() - timedelta(minutes=settings.SHAPING_LAB_DROPOUT_MINUTES + 1))
    response = admin_client.get(f"/admin/studies/study/{study.pk}/monitor/")
    assert response.context["totals"]["dropouts"] == 1


def test_game_and_adversary_are_locked_once_participants_joined(study_factory):
    study = study_factory("ipd")
    make_player(study)
    study.game_params = {**study.game_params, "rounds": 7}
    with pytest.raises(ValidationError, match="cannot change once participants"):
        study.full_clean()
    condition = Condition.objects.get(study=study)
    condition.adversary = "always_defect"
    with pytest.raises(ValidationError, match="cannot change once participants"):
        condition.full_clean()


def test_the_practice_block_is_locked_once_participants_joined_and_only_where_the_game_has_one(study_factory):
    gonogo = study_factory("gonogo", practice_trials=4)
    make_player(gonogo)
    gonogo.practice_trials = 6
    with pytest.raises(ValidationError, match="practice block cannot change once participants"):
        gonogo.full_clean()
    ipd = study_factory("ipd", status="draft")
    ipd.practice_trials = 3
    with pytest.raises(ValidationError) as refused:
        ipd.full_clean()
    assert refused.value.message_dict["practice_trials"] == [
        "Iterated prisoner's dilemma has no practice block: leave this at 0."]


def test_admin_pages_render(admin_client, study_factory):
    study = study_factory("bandit")
    make_player(study)
    for url in ["/admin/", "/admin/studies/study/", f"/admin/studies/study/{study.pk}/change/",
                "/admin/studies/study/add/", "/admin/studies/participant/", "/admin/play/trial/"]:
        assert admin_client.get(url).status_code == 200, url


def test_models_and_migrations_agree(db):
    from io import StringIO

    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", stdout=StringIO())  # SystemExit(1) if not
