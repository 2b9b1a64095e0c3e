"""Exports (docs/data.md): trials, participants, Prolific's bonus file and the zip of everything, by
management command and by staff-only download, and who may download them."""

import io
import json
import zipfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from helpers import make_player, make_study, scripted_choice
from shaping_core.data.schema import (EXTERNAL_ID_COLUMNS, PARTICIPANT_COLUMNS, PARTICIPANT_TEST_COLUMN,
                                      TRIAL_COLUMNS, TRIAL_TEST_COLUMN)
from webapp.play.models import Trial
from webapp.play.services import play_start, trial_submit
from webapp.research.export import BUNDLE_FILES, bonus_file, participants_frame, trials_frame
from webapp.studies.models import Participant
from webapp.studies.selectors import participant_earnings
from webapp.studies.services import ExternalIds, participant_join, participant_preview, study_set_status

DATA_MD = Path(__file__).resolve().parents[2] / "docs" / "data.md"


def play_game(participant):
    game = participant.study.make_game()
    live = play_start(participant=participant)
    for trial in range(participant.episode_length):
        choice = scripted_choice(participant.study.game, trial)
        action = game.spec.participant_actions.index(choice["choice"])
        live = trial_submit(participant=participant, live=live, trial_index=trial, action=action,
                            reaction_time_ms=choice["rt_ms"]).live


def play(participant, moves):
    """Play the participant's first len(moves) trials with the given actions (names)."""
    game = participant.study.make_game()
    live = play_start(participant=participant)
    for trial, move in enumerate(moves):
        live = trial_submit(participant=participant, live=live, trial_index=trial,
                            action=game.spec.participant_actions.index(move), reaction_time_ms=300.0).live
    participant.refresh_from_db()
    return participant


def preview_player(study):
    """A test participant who has passed the comprehension check."""
    from webapp.studies.services import participant_answer_comprehension, participant_consent

    participant = participant_preview(study=study)
    participant_consent(participant=participant, agreed=True)
    participant_answer_comprehension(participant=participant,
                                     answers={i: q["answer"] for i, q in enumerate(study.comprehension_questions)})
    participant.refresh_from_db()
    return participant


@pytest.fixture
def played(study_factory):
    study = study_factory("ipd", conditions=[("tft", "tit_for_tat", {}, 1), ("rnd", "random", {"p_cooperate": 0.3}, 1)])
    for external_id in ("alice", "bob"):
        play_game(make_player(study, external_id=external_id))
    unfinished = make_player(study, external_id="carol")
    play_start(participant=unfinished)  # an open trial, not yet answered: not exported
    return study


# --- trials ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_command_writes_one_row_per_completed_trial(played, tmp_path, fmt):
    path = tmp_path / f"trials.{fmt}"
    call_command("export_trials", study=played.slug, format=fmt, output=str(path), stdout=io.StringIO())
    frame = pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    assert list(frame.columns) == list(TRIAL_COLUMNS)
    assert len(frame) == 10 and frame["participant"].nunique() == 2
    assert set(frame["condition"]) == {"tft", "rnd"} and set(frame["game"]) == {"ipd"}
    assert "alice" not in frame.to_string()
    first = frame.sort_values(["participant", "trial"]).groupby("participant").head(5)
    assert list(first["trial"][:5]) == [0, 1, 2, 3, 4]
    assert set(frame["participant_action"]) <= {"C", "D"} and frame["reaction_time_ms"].notna().all()
    assert frame["adversary_probs"].notna().all()
    assert set(frame.loc[frame.condition == "rnd", "adversary_params"]) == {'{"p_cooperate": 0.3}'}
    assert frame["target_action_index"].isna().all()  # the IPD has no target action


def test_external_ids_only_on_request(played, tmp_path):
    path = tmp_path / "trials.csv"
    call_command("export_trials", study=played.slug, output=str(path), include_external_ids=True,
                 stdout=io.StringIO())
    frame = pd.read_csv(path)
    assert list(frame.columns) == list(TRIAL_COLUMNS) + EXTERNAL_ID_COLUMNS
    assert set(frame["external_id"]) == {"alice", "bob"}


def test_export_command_rejects_bad_arguments_clearly(played, tmp_path):
    with pytest.raises(CommandError, match="no study with slug 'nope'"):
        call_command("export_trials", study="nope", output=str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match="does not exist"):
        call_command("export_trials", study=played.slug, output=str(tmp_path / "missing" / "x.csv"))


def test_test_participants_are_left_out_unless_asked_for(played, tmp_path, admin_client):
    tester = preview_player(played)
    play_game(tester)
    assert tester.is_test

    default = tmp_path / "default.csv"
    call_command("export_trials", study=played.slug, output=str(default), stdout=io.StringIO())
    frame = pd.read_csv(default)
    assert tester.public_id not in set(frame["participant"]) and TRIAL_TEST_COLUMN not in frame.columns

    with_tests = tmp_path / "with-tests.csv"
    call_command("export_trials", study=played.slug, output=str(with_tests), include_test=True, stdout=io.StringIO())
    frame = pd.read_csv(with_tests)
    assert list(frame.columns) == list(TRIAL_COLUMNS) + [TRIAL_TEST_COLUMN]
    assert len(frame) == 15
    flags = frame.groupby("participant")[TRIAL_TEST_COLUMN].first()
    assert flags.to_dict() == {**{p: False for p in flags.index if p != tester.public_id}, tester.public_id: True}

    download = admin_client.get(f"/studies/{played.slug}/export.csv?include_test=1")
    assert pd.read_csv(io.BytesIO(download.content))[TRIAL_TEST_COLUMN].sum() == 5
    download = admin_client.get(f"/studies/{played.slug}/export.csv")
    assert tester.public_id not in download.content.decode()

    participants = participants_frame(study=played)
    assert tester.public_id not in set(participants["participant"])
    assert PARTICIPANT_TEST_COLUMN not in participants.columns
    participants = participants_frame(study=played, include_test=True)
    assert participants.set_index("participant")[PARTICIPANT_TEST_COLUMN].to_dict()[tester.public_id]
    assert participants[PARTICIPANT_TEST_COLUMN].sum() == 1


def test_the_bandits_target_option_has_a_column_of_its_own(db, tmp_path):
    study = make_study("bandit", params={"trials": 12, "rewards_per_option": 3, "target_option": 1})
    first, second = make_player(study), make_player(study)
    for participant in (first, second):
        play_game(participant)
    frame = trials_frame(study=study)
    assert list(frame["target_action_index"].unique()) == [1]
    # The adversary is paid exactly when the participant picks the target, whichever side it was on.
    chose_target = frame["participant_action_index"] == frame["target_action_index"]
    assert (frame["adversary_reward"] == chose_target.astype(float)).all() and 0 < chose_target.sum() < len(frame)
    orders = frame.groupby("participant", sort=False)["screen_order"].first()
    assert list(orders) == ["[0, 1]", "[1, 0]"]  # counterbalanced: the target on the right, then on the left

    path = tmp_path / "trials.parquet"
    call_command("export_trials", study=study.slug, format="parquet", output=str(path), stdout=io.StringIO())
    assert pd.read_parquet(path)["target_action_index"].tolist() == [1] * 24

    gonogo = make_study("gonogo")
    play_game(make_player(gonogo))
    assert trials_frame(study=gonogo)["target_action_index"].isna().all()


def test_an_export_ends_due_participations_first(played, tmp_path):
    """A participant idle past the study's limit is exported as timed out, not as playing."""
    carol = Participant.objects.get(study=played, external_id="carol")
    play(carol, ["C"])
    Participant.objects.filter(pk=carol.pk).update(last_seen_at=timezone.now() - timedelta(hours=1))
    path = tmp_path / "trials.csv"
    call_command("export_trials", study=played.slug, output=str(path), stdout=io.StringIO())
    frame = pd.read_csv(path)
    assert set(frame.loc[frame["participant"] == carol.public_id, "participant_status"]) == {"timed_out"}
    carol.refresh_from_db()
    assert carol.status == "timed_out" and carol.ended_at is not None


# --- participants and bonuses ---------------------------------------------------------------------

ROUNDS = 4


@pytest.fixture
def paid_study(db):
    """IPD of 4 rounds (R=3, S=0, T=5, P=1) against tit-for-tat (opens with C, then repeats the
    participant's move); 0.005 per point, rounded half up to the cent; a show-up fee of 1.50."""
    return make_study("ipd", params={"rounds": ROUNDS}, conditions=[("tft", "tit_for_tat", {}, 1)],
                      money_per_point=Decimal("0.005"), show_up_fee=Decimal("1.50"), currency="GBP")


def test_participants_export_has_one_row_per_participant_with_hand_computed_pay(paid_study):
    # CCDD vs CCCD: 3 + 3 + 5 + 1 = 12 points -> 0.06; CDCD vs CCDC: 3 + 5 + 0 + 5 = 13 -> 0.065 -> 0.07
    # (half up); DD then left: 5 + 1 = 6 -> 0.03.
    ann = play(make_player(paid_study, external_id="ann"), "CCDD")
    ben = play(make_player(paid_study, external_id="ben"), "CDCD")
    cat = play(make_player(paid_study, external_id="cat"), "DD")
    joined, _ = participant_join(study=paid_study, external=ExternalIds(participant="dan"))

    frame = participants_frame(study=paid_study)
    assert list(frame.columns) == list(PARTICIPANT_COLUMNS)
    assert list(frame["participant"]) == [ann.public_id, ben.public_id, cat.public_id, joined.public_id]
    rows = frame.set_index("participant")
    expected = {  # status, trials, points, bonus, total
        ann.public_id: ("completed", 4, 12.0, "0.06", "1.56"),
        ben.public_id: ("completed", 4, 13.0, "0.07", "1.57"),
        cat.public_id: ("playing", 2, 6.0, "0.03", "1.53"),
        joined.public_id: ("consent", 0, 0.0, "0.00", "1.50"),
    }
    for public_id, (status, trials, points, bonus, total) in expected.items():
        row = rows.loc[public_id]
        assert (row["status"], row["trials_completed"], row["points"]) == (status, trials, points)
        assert (row["bonus"], row["total_pay"], row["show_up_fee"]) == (Decimal(bonus), Decimal(total),
                                                                        Decimal("1.50"))
        participant = Participant.objects.get(public_id=public_id)
        earnings = participant_earnings(participant=participant)  # the one-participant rule agrees
        assert (earnings.points, earnings.bonus, earnings.total) == (points, Decimal(bonus), Decimal(total))
    assert set(frame["currency"]) == {"GBP"} and set(frame["condition"]) == {"tft"}
    assert rows.loc[ann.public_id, "completed_at"] >= rows.loc[ann.public_id, "started_at"]
    assert pd.isna(rows.loc[cat.public_id, "completed_at"]) and pd.isna(rows.loc[joined.public_id, "started_at"])
    assert rows.loc[ann.public_id, "comprehension_attempts"] == 1
    assert rows.loc[ann.public_id, "episode_length"] == ROUNDS and rows.loc[ann.public_id, "screen_order"] == "[0, 1]"
    assert "ann" not in frame.to_string()

    with_ids = participants_frame(study=paid_study, include_external_ids=True)
    assert list(with_ids.columns) == list(PARTICIPANT_COLUMNS) + EXTERNAL_ID_COLUMNS
    assert list(with_ids["external_id"]) == ["ann", "ben", "cat", "dan"]


def test_practice_trials_are_never_exported_nor_paid(paid_study):
    ann = play(make_player(paid_study, external_id="ann"), "CCDD")
    now = timezone.now()
    Trial.objects.create(participant=ann, practice=True, index=0, adversary_action=1, participant_action=1,
                         participant_reward=5.0, adversary_reward=0.0, presented_at=now, responded_at=now)
    frame = trials_frame(study=paid_study)
    assert frame["trial"].tolist() == [0, 1, 2, 3] and frame["participant_action"].tolist() == list("CCDD")
    row = participants_frame(study=paid_study).iloc[0]
    assert (row["trials_completed"], row["points"], row["bonus"]) == (4, 12.0, Decimal("0.06"))
    assert bonus_file(study=paid_study).csv() == b"ann,0.06\n"


def test_participants_download_is_csv_with_exact_money(admin_client, paid_study):
    play(make_player(paid_study, external_id="ann"), "CDCD")
    response = admin_client.get(f"/studies/{paid_study.slug}/participants.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == f'attachment; filename="{paid_study.slug}-participants.csv"'
    frame = pd.read_csv(io.BytesIO(response.content), dtype={"bonus": str, "total_pay": str, "show_up_fee": str})
    assert (frame.loc[0, "bonus"], frame.loc[0, "show_up_fee"], frame.loc[0, "total_pay"]) == ("0.07", "1.50", "1.57")
    assert frame.loc[0, "joined_at"].endswith("Z") and "external_id" not in frame.columns


def test_bonus_file_pays_real_finished_participants_with_an_id_and_a_bonus(db, admin_client):
    study = make_study("ipd", params={"rounds": ROUNDS},
                       conditions=[("tft", "tit_for_tat", {}, 1), ("alld", "always_defect", {}, 1)],
                       money_per_point=Decimal("0.05"), close_grace_minutes=0)
    # New participants alternate between the conditions: tft, alld, tft, ...
    players = {}
    for external_id, condition, moves in [
        ("alice", "tft", "CCDD"),  # completed, 12 points -> 0.60: paid
        ("bob", "alld", "CCCC"),  # completed, 0 points: no bonus, no line
        ("carol", "tft", "CD"),  # 8 points, then idle past the limit: timed out, not paid
        ("", "alld", "DDDD"),  # completed, 4 points, but no external id to pay
        ("erin,9.99", "tft", "CDCD"),  # completed, 13 points, an id that would break the file
        ("frank", "alld", "DD"),  # 2 points, playing when the study closes: ended at close, paid 0.10
    ]:
        participant = play(make_player(study, external_id=external_id), moves)
        assert participant.condition.name == condition
        players[external_id] = participant
    tester = preview_player(study)
    Participant.objects.filter(pk=tester.pk).update(external_id="tester")
    play(tester, "CCDD")  # completed with 12 points, but a test

    Participant.objects.filter(pk=players["carol"].pk).update(last_seen_at=timezone.now() - timedelta(hours=1))
    study_set_status(study=study, action="close")
    statuses = dict(Participant.objects.filter(study=study).values_list("external_id", "status"))
    assert statuses["carol"] == "timed_out" and statuses["frank"] == "ended_at_close"

    bonuses = bonus_file(study=study)
    assert bonuses.csv() == b"alice,0.60\nfrank,0.10\n"
    assert bonuses.total == Decimal("0.70")
    assert bonuses.unusable_ids == [players["erin,9.99"].public_id]

    response = admin_client.get(f"/studies/{study.slug}/bonus.csv")
    assert response.status_code == 200 and response.content == b"alice,0.60\nfrank,0.10\n"
    assert response["Content-Disposition"] == f'attachment; filename="{study.slug}-prolific-bonus.csv"'
    assert admin_client.get(f"/studies/{study.slug}/bonus.csv?include_test=1").content == response.content


# --- the zip of everything ------------------------------------------------------------------------


def test_bundle_download_holds_every_export_and_the_data_dictionary(admin_client, paid_study):
    play(make_player(paid_study, external_id="ann"), "CCDD")
    play(preview_player(paid_study), "DDDD")

    response = admin_client.get(f"/studies/{paid_study.slug}/export.zip")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="{paid_study.slug}-export.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == [name for name in BUNDLE_FILES if name != "prolific_bonus.csv"]
    assert archive.read("data.md") == DATA_MD.read_bytes()
    trials = pd.read_csv(io.BytesIO(archive.read("trials.csv")))
    assert len(trials) == ROUNDS and list(trials.columns) == list(TRIAL_COLUMNS) and b"ann" not in archive.read("trials.csv")
    parquet = pd.read_parquet(io.BytesIO(archive.read("trials.parquet")))
    assert parquet["participant_action"].tolist() == trials["participant_action"].tolist() == list("CCDD")
    participants = pd.read_csv(io.BytesIO(archive.read("participants.csv")))
    assert list(participants.columns) == list(PARTICIPANT_COLUMNS) and participants["points"].tolist() == [12.0]
    description = json.loads(archive.read("study.json"))
    assert description["study"]["slug"] == paid_study.slug and description["study"]["money_per_point"] == "0.0050"
    assert description["study"]["game_params"]["rounds"] == ROUNDS
    assert description["conditions"] == [{"name": "tft", "adversary": "tit_for_tat", "adversary_params": {},
                                          "weight": 1}]
    assert description["game"]["participant_actions"] == ["C", "D"]
    assert description["game"]["target_action_index"] is None
    assert description["export"]["include_test"] is False and description["export"]["files"] == archive.namelist()

    everything = zipfile.ZipFile(io.BytesIO(admin_client.get(
        f"/studies/{paid_study.slug}/export.zip?include_test=1&external_ids=1").content))
    assert everything.namelist() == list(BUNDLE_FILES)
    assert everything.read("prolific_bonus.csv") == b"ann,0.06\n"  # the test participant is never paid
    participants = pd.read_csv(io.BytesIO(everything.read("participants.csv")))
    assert participants[PARTICIPANT_TEST_COLUMN].tolist() == [False, True]
    assert participants["external_id"].fillna("").tolist() == ["ann", ""]
    assert len(pd.read_parquet(io.BytesIO(everything.read("trials.parquet")))) == 2 * ROUNDS


def test_export_study_command_writes_a_folder_or_a_zip(paid_study, tmp_path):
    play(make_player(paid_study, external_id="ann"), "CCDD")
    stdout = io.StringIO()
    call_command("export_study", study=paid_study.slug, out=str(tmp_path / "new" / "folder"),
                 include_external_ids=True, stdout=stdout)
    folder = tmp_path / "new" / "folder"
    assert sorted(p.name for p in folder.iterdir()) == sorted(BUNDLE_FILES)
    assert (folder / "data.md").read_bytes() == DATA_MD.read_bytes()
    assert (folder / "prolific_bonus.csv").read_text() == "ann,0.06\n"
    assert "1 bonuses, 0.06 GBP in all" in stdout.getvalue()

    stdout = io.StringIO()
    call_command("export_study", study=paid_study.slug, out=str(tmp_path / "study.zip"), stdout=stdout)
    archive = zipfile.ZipFile(tmp_path / "study.zip")
    assert "prolific_bonus.csv" not in archive.namelist() and "add --include-external-ids" in stdout.getvalue()
    assert pd.read_csv(io.BytesIO(archive.read("participants.csv")))["points"].tolist() == [12.0]

    with pytest.raises(CommandError, match="no study with slug 'nope'"):
        call_command("export_study", study="nope", out=str(tmp_path / "x.zip"))
    with pytest.raises(CommandError, match="does not exist"):
        call_command("export_study", study=paid_study.slug, out=str(tmp_path / "missing" / "x.zip"))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(CommandError, match="cannot write the export to .*a-file"):
        call_command("export_study", study=paid_study.slug, out=str(blocker / "out"))


# --- who may download -----------------------------------------------------------------------------

EXPORT_PATHS = ["export.csv", "export.parquet", "participants.csv", "bonus.csv", "export.zip"]


def test_downloads_need_staff_and_the_export_permission_on_the_study(client, played):
    users = get_user_model().objects
    urls = [f"/studies/{played.slug}/{path}" for path in EXPORT_PATHS]
    for url in urls:  # anonymous
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response.url, url

    collaborator_not_staff = users.create_user("visitor", password="pw-123456")
    played.collaborators.add(collaborator_not_staff)
    client.force_login(collaborator_not_staff)
    for url in urls:
        assert client.get(url).status_code == 302, url

    client.force_login(users.create_user("stranger", password="pw-123456", is_staff=True))
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.get(f"/studies/no-such-study/{EXPORT_PATHS[0]}").status_code == 404

    for role in ("owners", "collaborators"):
        member = users.create_user(f"member-{role}", password="pw-123456", is_staff=True)
        getattr(played, role).add(member)
        client.force_login(member)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200 and response.content, (role, url)
        assert len(pd.read_csv(io.BytesIO(client.get(urls[0]).content))) == 10
        assert len(pd.read_parquet(io.BytesIO(client.get(urls[1]).content))) == 10
        assert client.get(f"/studies/{played.slug}/export.xlsx").status_code == 404
        assert client.post(urls[0]).status_code == 405


def test_admin_action_exports_csv(admin_client, played):
    response = admin_client.post("/admin/studies/study/", {"action": "export_csv", "_selected_action": [played.pk]})
    assert response.status_code == 200 and len(pd.read_csv(io.BytesIO(response.content))) == 10
