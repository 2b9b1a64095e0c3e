"""A researcher's day in the admin: save again, the participant links, preview, duplicate, deleting
test participants, the Monitor's participant table, and who may see which study."""

import re

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from form_reader import form_data
from helpers import make_player
from webapp.play.models import Trial
from webapp.play.services import play_start, trial_submit
from webapp.studies.models import Participant, Study
from webapp.studies.rules import RESEARCHERS_GROUP
from webapp.studies.services import ExternalIds, StudyFull, participant_join


def change_url(study):
    return f"/admin/studies/study/{study.pk}/change/"


def researcher(username, *studies, role="owners"):
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=RESEARCHERS_GROUP))
    for study in studies:
        getattr(study, role).add(user)
    client = Client()
    client.force_login(user)
    return user, client


def test_a_saved_study_saves_again_as_the_browser_submits_it(admin_client, study_factory):
    """Before, the blank extra condition row's adversary menu had no empty choice, so the browser sent
    its first adversary, the row counted as filled in, and Save failed with "This field is required"."""
    study = study_factory("bandit", status="draft")
    data = form_data(admin_client.get(change_url(study)).content.decode(), "study_form")
    assert data["conditions-1-adversary"] == ""  # the extra row, untouched
    data["name"] = "Renamed"
    response = admin_client.post(change_url(study), data)
    assert response.status_code == 302, response.context["adminform"].errors
    study.refresh_from_db()
    assert study.name == "Renamed" and study.conditions.count() == 1


def test_the_add_page_saves_with_its_untouched_extra_row(admin_client):
    """Before: "Tit-for-tat cannot play Choice-engineering bandit" from the untouched row."""
    data = form_data(admin_client.get("/admin/studies/study/add/").content.decode(), "study_form")
    data.update({"name": "Bandit pilot", "slug": "bandit-pilot", "game": "bandit",
                 "conditions-0-name": "random", "conditions-0-adversary": "random_schedule"})
    # "Add another" pressed, and its row left as it is: the admin's script copies the empty row.
    data["conditions-TOTAL_FORMS"] = "2"
    data.update({name.replace("__prefix__", "1"): value for name, value in data.items() if "__prefix__" in name})
    response = admin_client.post("/admin/studies/study/add/", data)
    assert response.status_code == 302, (response.context["adminform"].errors,
                                         [f.formset.errors for f in response.context["inline_admin_formsets"]])
    study = Study.objects.get(slug="bandit-pilot")
    assert list(study.conditions.values_list("adversary", flat=True)) == ["random_schedule"]
    assert list(study.owners.values_list("username", flat=True)) == ["admin"]  # the creator owns it


def test_the_add_page_maps_each_adversary_to_its_games(admin_client):
    page = admin_client.get("/admin/studies/study/add/").content.decode()
    assert '<option value="" selected>---------</option>' in page
    assert '"random_schedule": ["bandit", "gonogo"]' in page and '"tit_for_tat": ["ipd"]' in page


def test_the_change_page_shows_the_full_participant_links(admin_client, study_factory):
    study = study_factory("ipd", status="draft")
    page = admin_client.get(change_url(study)).content.decode()
    link = f"http://testserver/s/{study.slug}/"
    assert f'value="{link}"' in page
    assert (f'value="{link}?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}&amp;STUDY_ID={{{{%STUDY_ID%}}}}'
            f'&amp;SESSION_ID={{{{%SESSION_ID%}}}}"') in page
    assert 'class="button copy-link"' in page


def test_the_status_forms_are_not_nested_in_the_admin_form(admin_client, study_factory):
    """A form inside another is dropped by the browser: Launch, the first, did nothing."""
    study = study_factory("ipd", status="draft")
    page = admin_client.get(change_url(study)).content.decode()
    main_form_end = page.index("</form>", page.index('id="study_form"'))
    assert page.index('<form id="study-status-launch"') > main_form_end
    assert 'form="study-status-launch"' in page[:main_form_end]


@pytest.mark.parametrize("status, buttons", [("draft", ["Launch", "Close"]), ("live", ["Pause", "Close"]),
                                             ("paused", ["Resume", "Close"]), ("closed", [])])
def test_the_change_page_offers_only_the_status_changes_allowed(admin_client, study_factory, status, buttons):
    study = study_factory("ipd", status=status)
    page = admin_client.get(change_url(study)).content.decode()
    offered = re.findall(r'<button type="submit" form="study-status-\w+" class="button">(\w+)</button>', page)
    assert offered == buttons


def test_the_change_page_links_every_download(admin_client, study_factory):
    study = study_factory("ipd")
    page = admin_client.get(change_url(study)).content.decode()
    for url in ("export.csv", "participants.csv", "bonus.csv", "export.zip"):
        assert f'href="/studies/{study.slug}/{url}"' in page
        assert admin_client.get(f"/studies/{study.slug}/{url}").status_code == 200, url


def test_preview_plays_a_draft_as_a_test_participant_who_takes_no_place(admin_client, study_factory):
    study = study_factory("ipd", status="draft", cap=1)
    response = admin_client.post(f"/admin/studies/study/{study.pk}/preview/")
    tester = Participant.objects.get()
    assert response.status_code == 302 and response.url == f"/p/{tester.token}/" and tester.is_test
    assert admin_client.get(response.url).status_code == 200
    from webapp.studies.services import study_set_status
    study_set_status(study=study, action="launch")
    participant_join(study=study, external=ExternalIds(participant="real"))  # the one place is free
    with pytest.raises(StudyFull):
        participant_join(study=study, external=ExternalIds(participant="second"))
    monitor = admin_client.get(f"/admin/studies/study/{study.pk}/monitor/data/").json()
    assert monitor["totals"]["participants"] == 1 and len(monitor["participants"]) == 1


def test_duplicate_makes_a_new_draft_with_the_conditions(admin_client, study_factory):
    study = study_factory("trust", conditions=[("a", "random_repayment", {}, 1),
                                               ("b", "fixed_fraction", {"fraction": 0.5}, 2)])
    response = admin_client.post(f"/admin/studies/study/{study.pk}/duplicate/")
    copy = Study.objects.exclude(pk=study.pk).get()
    assert response.status_code == 302 and response.url == change_url(copy)
    assert copy.status == Study.Status.DRAFT and copy.slug == f"{study.slug}-copy"
    assert copy.name == f"Copy of {study.name}" and copy.game_params == study.game_params
    assert list(copy.conditions.values_list("name", "adversary", "adversary_params", "weight")) == [
        ("a", "random_repayment", {}, 1), ("b", "fixed_fraction", {"fraction": 0.5}, 2)]
    admin_client.post(f"/admin/studies/study/{study.pk}/duplicate/")
    assert Study.objects.filter(slug=f"{study.slug}-copy-2").exists()


def test_duplicate_action_on_the_list(admin_client, study_factory):
    study = study_factory("ipd")
    admin_client.post("/admin/studies/study/", {"action": "duplicate", "_selected_action": [study.pk]})
    assert Study.objects.filter(name=f"Copy of {study.name}", status="draft").exists()


def _played(study, external_id=""):
    participant = make_player(study, external_id)
    live = play_start(participant=participant)
    trial_submit(participant=participant, live=live, trial_index=0, action=0, reaction_time_ms=200.0)
    return participant


def test_owners_delete_test_participants_with_their_trials_but_not_real_ones(study_factory):
    study = study_factory("ipd")
    _, client = researcher("owner", study)
    real = _played(study, "real")
    tester = _played(study, "tester")
    Participant.objects.filter(pk=tester.pk).update(is_test=True)
    refused = client.post(f"/admin/studies/participant/{real.pk}/delete/", {"post": "yes"})
    assert refused.status_code in (200, 403) and Participant.objects.filter(pk=real.pk).exists()
    confirm = client.get(f"/admin/studies/participant/{tester.pk}/delete/")
    assert confirm.status_code == 200 and b"2 trials" in confirm.content  # one done, one open
    response = client.post(f"/admin/studies/participant/{tester.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Participant.objects.filter(pk=tester.pk).exists()
    assert not Trial.objects.filter(participant_id=tester.pk).exists()
    assert Trial.objects.filter(participant=real).count() == 2  # one done, one open


def test_a_superuser_deletes_a_real_participant_with_their_trials(admin_client, study_factory):
    """A withdrawal: before, every deletion was refused because of the protected trials."""
    study = study_factory("ipd")
    real = _played(study)
    response = admin_client.post("/admin/studies/participant/", {"action": "delete_selected",
                                                                  "_selected_action": [real.pk], "post": "yes"})
    assert response.status_code == 302
    assert not Participant.objects.exists() and not Trial.objects.exists()


def test_the_monitor_lists_each_participant_with_progress_and_points(admin_client, study_factory):
    study = study_factory("ipd")
    player = _played(study)
    waiting, _ = participant_join(study=study, external=ExternalIds())
    page = admin_client.get(f"/admin/studies/study/{study.pk}/monitor/").content.decode()
    assert "2 participants" in page and player.public_id in page and waiting.public_id in page
    data = admin_client.get(f"/admin/studies/study/{study.pk}/monitor/data/").json()
    rows = {row["participant"]: row for row in data["participants"]}
    points = Trial.objects.get(participant=player, index=0).participant_reward
    assert rows[player.public_id]["status"] == "Playing" and rows[player.public_id]["trial"] == "1 of 5"
    assert rows[player.public_id]["points"] == points
    assert rows[waiting.public_id]["status"] == "Reading consent"


def test_the_monitor_says_1_participant(admin_client, study_factory):
    study = study_factory("ipd")
    participant_join(study=study, external=ExternalIds())
    page = admin_client.get(f"/admin/studies/study/{study.pk}/monitor/").content.decode()
    assert "1 participant</strong>" in page and "0 trials</strong>" in page


# --- who may see which study --------------------------------------------------------------------------

STUDY_PAGES = ["/admin/studies/study/{pk}/change/", "/admin/studies/study/{pk}/monitor/",
               "/admin/studies/study/{pk}/monitor/data/", "/admin/studies/study/{pk}/monitor/figure/earnings.png"]


def test_a_staff_user_without_rights_cannot_see_monitor_or_export_a_study(study_factory):
    study = study_factory("ipd")
    _played(study)
    _, outsider = researcher("outsider")
    for page in STUDY_PAGES:
        response = outsider.get(page.format(pk=study.pk))
        assert response.status_code in (302, 403, 404), page
        assert response.status_code != 302 or "/admin/" in response.url
    changelist = outsider.get("/admin/studies/study/").content.decode()
    assert study.name not in changelist
    assert study.slug not in outsider.get("/admin/studies/participant/").content.decode()
    trials = outsider.get("/admin/play/trial/")
    assert trials.status_code == 200 and "0 trials" in trials.content.decode()
    trial = Trial.objects.filter(participant__study=study).first()
    assert outsider.get(f"/admin/play/trial/{trial.pk}/change/").status_code in (302, 403, 404)
    assert outsider.get(f"/studies/{study.slug}/export.csv").status_code == 403
    assert outsider.post(f"/admin/studies/study/{study.pk}/status/close/").status_code == 404
    assert outsider.post(f"/admin/studies/study/{study.pk}/preview/").status_code == 404
    study.refresh_from_db()
    assert study.status == Study.Status.LIVE and not Participant.objects.filter(is_test=True).exists()


def test_a_collaborator_sees_monitors_and_exports_but_changes_nothing(study_factory):
    study = study_factory("ipd")
    _, collaborator = researcher("colleague", study, role="collaborators")
    assert collaborator.get(change_url(study)).status_code == 200
    assert collaborator.get(f"/admin/studies/study/{study.pk}/monitor/data/").status_code == 200
    assert collaborator.get(f"/studies/{study.slug}/export.csv").status_code == 200
    assert collaborator.post(f"/admin/studies/study/{study.pk}/status/close/").status_code == 403
    collaborator.post("/admin/studies/study/", {"action": "close", "_selected_action": [study.pk]})
    study.refresh_from_db()
    assert study.status == Study.Status.LIVE


def test_an_owner_runs_their_study_and_sees_only_theirs(study_factory):
    mine, theirs = study_factory("ipd", status="draft"), study_factory("trust")
    _, owner = researcher("owner", mine)
    assert owner.post(f"/admin/studies/study/{mine.pk}/status/launch/").status_code == 302
    mine.refresh_from_db()
    assert mine.status == Study.Status.LIVE
    listing = owner.get("/admin/studies/study/").content.decode()
    assert mine.name in listing and theirs.name not in listing
    assert owner.get(change_url(theirs)).status_code in (302, 404)
    _played(mine, "mine")
    _played(theirs, "theirs")
    trials = owner.get("/admin/play/trial/").content.decode()
    assert "2 trials" in trials and mine.name in trials and theirs.name not in trials
