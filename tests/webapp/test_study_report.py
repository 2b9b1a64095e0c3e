"""The study report: the study_report command's figures, CSV and metrics, and the Monitor page's live
data and figures (staff only)."""

import io
import json

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from helpers import GAMES, make_player, make_study, scripted_choice
from webapp.play.models import Trial
from webapp.play.services import play_start, trial_submit
from webapp.research.report import study_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROUNDS = 4


def play(participant, moves):
    """Play the participant's first len(moves) trials with the given actions (names)."""
    game = participant.study.make_game()
    live = play_start(participant=participant)
    for trial, move in enumerate(moves):
        action = game.spec.participant_actions.index(move)
        live = trial_submit(participant=participant, live=live, trial_index=trial, action=action,
                            reaction_time_ms=300.0).live


@pytest.fixture
def ipd_study(db):
    """Two IPD conditions of 4 rounds. tft: two finished games; alld: one finished game and one
    participant who left after 2 rounds. Tit-for-tat opens with C, then repeats the participant's move."""
    study = make_study("ipd", params={"rounds": ROUNDS},
                       conditions=[("tft", "tit_for_tat", {}, 1), ("alld", "always_defect", {}, 1)])
    scripts = {"tft": [list("CCDD"), list("CDCD")], "alld": [list("CCCC"), list("DD")]}
    for _ in range(4):
        participant = make_player(study)
        play(participant, scripts[participant.condition.name].pop(0))
    assert scripts == {"tft": [], "alld": []}
    late = make_player(study)  # joined, no trial answered: counted, not in the trial table
    assert late.condition.name == "tft"  # the tie goes to the first condition
    return study


def expected_rows():
    """By hand. Cooperation by trial: tft players CCDD and CDCD; alld players CCCC and DD (unfinished).
    Earnings (R=3, S=0, T=5, P=1) of completed games: tft CCDD vs CCCD -> 12 / 7, CDCD vs CCDC -> 13 / 8;
    alld CCCC vs DDDD -> 0 / 20 (the unfinished DD player does not count)."""
    nan = float("nan")  # s.e.m. of one value; of {0, 1} and of {12, 13} it is sd / sqrt(2) = 0.5
    curves = [  # condition, trial, n, mean, sem
        ("tft", 0, 2, 1.0, 0.0), ("tft", 1, 2, 0.5, 0.5), ("tft", 2, 2, 0.5, 0.5), ("tft", 3, 2, 0.0, 0.0),
        ("alld", 0, 2, 0.5, 0.5), ("alld", 1, 2, 0.5, 0.5), ("alld", 2, 1, 1.0, nan), ("alld", 3, 1, 1.0, nan),
    ]
    rows = [(f"condition-{c}.png", c, "cooperation", t, n, m, s) for c, t, n, m, s in curves]
    rows += [("earnings.png", "tft", "participant_points", nan, 2, 12.5, 0.5),
             ("earnings.png", "tft", "adversary_points", nan, 2, 7.5, 0.5),
             ("earnings.png", "alld", "participant_points", nan, 1, 0.0, nan),
             ("earnings.png", "alld", "adversary_points", nan, 1, 20.0, nan)]
    return rows


def test_report_command_writes_the_hand_computed_numbers_and_figures(ipd_study, tmp_path):
    out = tmp_path / "report"  # created by the command
    stdout = io.StringIO()
    call_command("study_report", study=ipd_study.slug, out=str(out), stdout=stdout)
    assert sorted(p.name for p in out.iterdir()) == [
        "condition-alld.png", "condition-tft.png", "earnings.png", "metrics.json", "report.csv"]
    for name in ("condition-alld.png", "condition-tft.png", "earnings.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1000

    table = pd.read_csv(out / "report.csv")
    assert list(table.columns) == ["figure", "condition", "measure", "trial", "n", "mean", "sem", "low", "high"]
    expected = pd.DataFrame(expected_rows(), columns=["figure", "condition", "measure", "trial", "n", "mean", "sem"])
    pd.testing.assert_frame_equal(table[expected.columns], expected, check_dtype=False)
    pd.testing.assert_series_equal(table["low"], table["mean"] - table["sem"], check_names=False)
    pd.testing.assert_series_equal(table["high"], table["mean"] + table["sem"], check_names=False)

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["study"] == ipd_study.slug and metrics["game"] == "ipd"
    assert "standard error" in metrics["spread"]
    tft, alld = metrics["conditions"]["tft"], metrics["conditions"]["alld"]
    assert tft["participants"] == {"consent": 0, "instructions": 0, "playing": 1, "completed": 2, "declined": 0, "timed_out": 0, "ended_at_close": 0,
                                   "total": 3}
    assert alld["participants"] == {"consent": 0, "instructions": 0, "playing": 1, "completed": 1, "declined": 0, "timed_out": 0, "ended_at_close": 0,
                                    "total": 2}
    assert (tft["participants_with_trials"], tft["trials"], alld["participants_with_trials"], alld["trials"]) == (
        2, 8, 2, 6)
    # Per participant cooperation: tft 0.5 and 0.5; alld 1.0 and 0.0.
    assert tft["measures"]["cooperation"] == {"n": 2, "mean": 0.5, "sem": 0.0, "low": 0.5, "high": 0.5}
    assert alld["measures"]["cooperation"] == {"n": 2, "mean": 0.5, "sem": 0.5, "low": 0.0, "high": 1.0}
    assert tft["earnings_of_completed"]["participant_points"] == {"n": 2, "mean": 12.5, "sem": 0.5, "low": 12.0,
                                                                  "high": 13.0}
    assert alld["earnings_of_completed"]["adversary_points"] == {"n": 1, "mean": 20.0, "sem": None, "low": None,
                                                                 "high": None}
    assert "wrote" in stdout.getvalue()


def test_report_command_errors_are_clear_and_write_nothing(ipd_study, tmp_path):
    with pytest.raises(CommandError, match="no study with slug 'nope'"):
        call_command("study_report", study="nope", out=str(tmp_path / "a"))
    empty = make_study("bandit")
    make_player(empty)
    with pytest.raises(CommandError, match="has no completed trials yet .1 participants joined.*nothing written"):
        call_command("study_report", study=empty.slug, out=str(tmp_path / "b"))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(CommandError, match="cannot write the report into .*a-file"):
        call_command("study_report", study=ipd_study.slug, out=str(blocker / "report"))


@pytest.mark.parametrize("game", GAMES)
def test_each_games_measure_follows_its_definition(db, game):
    """The measures, recomputed from the stored trials by their definitions (not the rewards)."""
    study = make_study(game)
    participant = make_player(study)
    game_rules = study.make_game()
    spec, params = game_rules.spec, game_rules.params
    play(participant, [scripted_choice(game, t)["choice"] for t in range(participant.episode_length)])
    trials = list(Trial.objects.filter(participant=participant).order_by("index"))
    moves = [(spec.participant_actions[t.participant_action], spec.adversary_actions[t.adversary_action])
             for t in trials]
    if game == "ipd":
        expected = {"cooperation": [float(mine == "C") for mine, _ in moves]}
    elif game == "bandit":
        expected = {"target_choice": [float(mine == f"option{params.target_option}") for mine, _ in moves]}
    elif game == "gonogo":  # commission (respond to no-go) or omission (withhold on go)
        expected = {"error": [float(move in {("respond", "nogo"), ("withhold", "go")}) for move in moves]}
    else:
        expected = {"investment": [t.participant_action / params.endowment for t in trials],
                    "return_fraction": [params.return_fractions[t.adversary_action] if t.participant_action
                                        else None for t in trials]}
    report = study_report(study=study)
    assert [m.name for m in report.measures] == list(expected)
    for measure, values in expected.items():
        curve = report.by_trial[report.by_trial["measure"] == measure]
        defined = [(i, v) for i, v in enumerate(values) if v is not None]
        assert list(curve["trial"]) == [i for i, _ in defined]
        assert list(curve["mean"]) == pytest.approx([v for _, v in defined])
        assert list(curve["n"]) == [1] * len(defined)
    if game == "gonogo":
        assert 0 < sum(expected["error"]) < len(trials)  # the script makes some errors, not only errors


def test_monitor_data_gives_live_counts_and_summaries_to_staff(admin_client, ipd_study):
    response = admin_client.get(f"/admin/studies/study/{ipd_study.pk}/monitor/data/")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    data = response.json()
    assert data["totals"] == {"participants": 5, "trials": 14, "dropouts": 0}
    rows = {c["name"]: c for c in data["conditions"]}
    assert rows["tft"]["by_status"]["Completed"] == 2 and rows["tft"]["total"] == 3
    assert rows["alld"]["by_status"] == {"Reading consent": 0, "Reading instructions": 0, "Playing": 1,
                                         "Completed": 1, "Declined consent": 0, "Timed out": 0,
                                         "Ended when the study closed": 0}
    assert rows["alld"]["trials"] == 6
    assert rows["alld"]["summary"]["measures"]["cooperation"]["mean"] == 0.5
    assert rows["tft"]["summary"]["earnings_of_completed"]["adversary_points"]["mean"] == 7.5
    assert data["measures"] == {"cooperation": "cooperation rate"}

    page = admin_client.get(f"/admin/studies/study/{ipd_study.pk}/monitor/").content.decode()
    assert f"/admin/studies/study/{ipd_study.pk}/monitor/data/" in page and "setTimeout" in page
    assert f"/admin/studies/study/{ipd_study.pk}/monitor/figure/condition-tft.png" in page
    for figure in ("condition-tft", "condition-alld", "earnings"):
        png = admin_client.get(f"/admin/studies/study/{ipd_study.pk}/monitor/figure/{figure}.png")
        assert png.status_code == 200 and png["Content-Type"] == "image/png"
        assert png.content.startswith(PNG_SIGNATURE)
    assert admin_client.get(f"/admin/studies/study/{ipd_study.pk}/monitor/figure/condition-nope.png"
                            ).status_code == 404


def test_monitor_data_of_a_study_without_trials(admin_client, study_factory):
    study = study_factory("trust")
    make_player(study)
    data = admin_client.get(f"/admin/studies/study/{study.pk}/monitor/data/").json()
    assert data["totals"] == {"participants": 1, "trials": 0, "dropouts": 0}
    assert data["conditions"][0]["summary"]["measures"]["investment"] == {
        "n": 0, "mean": None, "sem": None, "low": None, "high": None}
    png = admin_client.get(f"/admin/studies/study/{study.pk}/monitor/figure/condition-main.png")
    assert png.content.startswith(PNG_SIGNATURE)  # an empty figure saying "no trials yet"


def test_monitor_data_and_figures_are_staff_only(client, ipd_study):
    urls = [f"/admin/studies/study/{ipd_study.pk}/monitor/data/",
            f"/admin/studies/study/{ipd_study.pk}/monitor/figure/condition-tft.png",
            f"/admin/studies/study/{ipd_study.pk}/monitor/figure/earnings.png"]
    for url in urls:  # anonymous
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response.url, url
    client.force_login(get_user_model().objects.create_user("visitor", password="pw-123456"))
    for url in urls:  # logged in, not staff
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response.url, url
        assert b"cooperation" not in response.content and not response.content.startswith(PNG_SIGNATURE)


def test_test_participants_count_in_the_report_only_when_asked_for(ipd_study, tmp_path):
    from webapp.studies.services import participant_answer_comprehension, participant_consent, participant_preview

    tester = participant_preview(study=ipd_study)
    participant_consent(participant=tester, agreed=True)
    participant_answer_comprehension(participant=tester, answers={
        i: q["answer"] for i, q in enumerate(ipd_study.comprehension_questions)})
    play(tester, list("DDDD"))  # a preview plays in the first condition, tft, and never cooperates

    without = study_report(study=ipd_study)
    assert tester.public_id not in set(without.per_participant["participant"])
    assert without.summary("tft", "cooperation") == {"n": 2, "mean": 0.5, "sem": 0.0, "low": 0.5, "high": 0.5}

    with_tests = study_report(study=ipd_study, include_test=True)
    assert tester.public_id in set(with_tests.per_participant["participant"])
    assert with_tests.summary("tft", "cooperation")["n"] == 3
    assert with_tests.summary("tft", "cooperation")["mean"] == pytest.approx(1 / 3)  # (0.5 + 0.5 + 0) / 3

    for flags, expected in (({}, 2), ({"include_test": True}, 3)):
        out = tmp_path / f"report-{len(flags)}"
        call_command("study_report", study=ipd_study.slug, out=str(out), stdout=io.StringIO(), **flags)
        assert json.loads((out / "metrics.json").read_text())["conditions"]["tft"]["participants_with_trials"] == expected
