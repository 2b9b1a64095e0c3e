"""Trial export: the management command, the staff-only download and the admin action."""

import io

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from helpers import make_player, scripted_choice
from webapp.play.services import play_start, trial_submit
from webapp.studies.export import COLUMNS, EXTERNAL_ID_COLUMNS


def play_game(participant):
    game = participant.study.make_game()
    live = play_start(participant=participant)
    for trial in range(participant.episode_length):
        choice = scripted_choice(participant.study.game, trial)
        action = game.spec.participant_actions.index(choice["choice"])
        live = trial_submit(participant=participant, live=live, trial_index=trial, action=action,
                            reaction_time_ms=choice["rt_ms"]).live


@pytest.fixture
def played(study_factory):
    study = study_factory("ipd", conditions=[("tft", "tit_for_tat", {}, 1), ("rnd", "random", {"p_cooperate": 0.3}, 1)])
    for external_id in ("alice", "bob"):
        play_game(make_player(study, external_id=external_id))
    unfinished = make_player(study, external_id="carol")
    play_start(participant=unfinished)  # an open trial, not yet answered: not exported
    return study


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_command_writes_one_row_per_completed_trial(played, tmp_path, fmt):
    path = tmp_path / f"trials.{fmt}"
    call_command("export_trials", study=played.slug, format=fmt, output=str(path), stdout=io.StringIO())
    frame = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    assert list(frame.columns) == COLUMNS
    assert len(frame) == 10 and frame["participant"].nunique() == 2
    assert set(frame["condition"]) == {"tft", "rnd"} and set(frame["game"]) == {"ipd"}
    assert "alice" not in frame.to_string()
    first = frame.sort_values(["participant", "trial"]).groupby("participant").head(5)
    assert list(first["trial"][:5]) == [0, 1, 2, 3, 4]
    assert set(frame["participant_action"]) <= {"C", "D"} and frame["reaction_time_ms"].notna().all()
    assert frame["adversary_probs"].notna().all()
    assert set(frame.loc[frame.condition == "rnd", "adversary_params"]) == {'{"p_cooperate": 0.3}'}


def test_external_ids_only_on_request(played, tmp_path):
    path = tmp_path / "trials.csv"
    call_command("export_trials", study=played.slug, output=str(path), include_external_ids=True,
                 stdout=io.StringIO())
    frame = pd.read_csv(path)
    assert list(frame.columns) == COLUMNS + EXTERNAL_ID_COLUMNS
    assert set(frame["external_id"]) == {"alice", "bob"}


def test_export_command_rejects_bad_arguments_clearly(played, tmp_path):
    with pytest.raises(CommandError, match="no study with slug 'nope'"):
        call_command("export_trials", study="nope", output=str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match="does not exist"):
        call_command("export_trials", study=played.slug, output=str(tmp_path / "missing" / "x.csv"))


def test_download_is_staff_only(client, played):
    url = f"/studies/{played.slug}/export.csv"
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response.url
    user = get_user_model().objects.create_user("visitor", password="pw-123456")
    client.force_login(user)
    assert client.get(url).status_code == 302
    staff = get_user_model().objects.create_user("staff", password="pw-123456", is_staff=True)
    client.force_login(staff)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert len(pd.read_csv(io.BytesIO(response.content))) == 10
    parquet = client.get(f"/studies/{played.slug}/export.parquet")
    assert len(pd.read_parquet(io.BytesIO(parquet.content))) == 10
    assert client.get(f"/studies/{played.slug}/export.xlsx").status_code == 404


def test_admin_action_exports_csv(admin_client, played):
    response = admin_client.post("/admin/studies/study/", {"action": "export_csv", "_selected_action": [played.pk]})
    assert response.status_code == 200 and len(pd.read_csv(io.BytesIO(response.content))) == 10
