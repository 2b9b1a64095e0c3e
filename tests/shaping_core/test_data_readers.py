"""Trial file readers (shaping_core/data/readers.py): each format's mapping onto the canonical
table, the round trip into TrialSequences, and error messages that say file, line and column.

Every file here is small and hand-made in tmp_path; the real public datasets are not needed,
except by one test that reads the human IPD games where ../shared/data holds them (skipped if not).
"""

import gzip
import hashlib
import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import torch

from shaping_core.data import (DATA_FORMATS, DataFormatError, load_sequences, read_trials,
                               sequences_from_frame)
from shaping_core.data.schema import CONTEXT_PREFIX, context_columns
from shaping_core.games import make_game

BANDIT = make_game("bandit")
GONOGO = make_game("gonogo")
IPD = make_game("ipd")  # R=3, S=0, T=5, P=1
NAN = float("nan")

# --- platform export ------------------------------------------------------------------------

P1, P2, P3 = "p0000000000a1", "p0000000000b2", "p0000000000c3"


def platform_frame():
    """A bandit study export as webapp/research/export.py writes it (docs/data.md): P2 is listed
    first (the export orders by database id, not by name) and stopped after two trials."""
    trials = [
        # participant, condition, trial, choice, assignment, reward, adversary reward, rt
        (P2, "random", 0, 1, 3, 1.0, 0.0, 812.0),
        (P2, "random", 1, 0, 0, 0.0, 1.0, 640.5),
        (P1, "shaped", 0, 0, 1, 1.0, 1.0, 1200.0),
        (P1, "shaped", 1, 1, 0, 0.0, 0.0, NAN),
        (P1, "shaped", 2, 1, 2, 1.0, 0.0, 455.0),
        (P3, "random", 0, 0, 0, 0.0, 1.0, 900.0),
        (P3, "random", 1, 0, 1, 1.0, 1.0, 901.0),
        (P3, "random", 2, 1, 3, 1.0, 0.0, 902.0),
    ]
    rows = []
    for n, (participant, condition, trial, choice, assignment, reward, adv_reward, rt) in enumerate(trials):
        rows.append({
            "study": "demo", "condition": condition, "adversary": "random_schedule",
            "adversary_params": json.dumps({"p": 0.5}), "participant": participant, "game": "bandit",
            "trial": trial, "participant_action": BANDIT.spec.participant_actions[choice],
            "participant_action_index": choice,
            "adversary_action": BANDIT.spec.adversary_actions[assignment],
            "adversary_action_index": assignment, "participant_reward": reward,
            "adversary_reward": adv_reward, "reaction_time_ms": rt,
            "presented_at": pd.Timestamp("2025-01-01T10:00:00Z") + pd.Timedelta(seconds=2 * n),
            "responded_at": pd.Timestamp("2025-01-01T10:00:01.250Z") + pd.Timedelta(seconds=2 * n),
            "adversary_probs": json.dumps([0.25, 0.25, 0.25, 0.25]), "episode_length": 100,
            "screen_order": json.dumps([0, 1]),
            "participant_status": "playing" if participant == P2 else "completed",
        })
    return pd.DataFrame(rows)


def write_csv(frame, path):
    # The export's own settings (webapp/research/export.py).
    frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    return path


def write_text(path, text):
    path.write_text(text)
    return path


def test_platform_csv_maps_the_export_onto_the_canonical_table(tmp_path):
    frame = read_trials(write_csv(platform_frame(), tmp_path / "trials.csv"), game=BANDIT)

    assert list(frame.columns[:10]) == [
        "participant", "trial", "participant_action", "participant_action_index", "adversary_action",
        "adversary_action_index", "participant_reward", "adversary_reward", "reaction_time_ms", "game"]
    # Sorted by participant, then trial; P2 keeps the two trials it has.
    assert frame["participant"].tolist() == [P1] * 3 + [P2] * 2 + [P3] * 3
    assert frame["trial"].tolist() == [0, 1, 2, 0, 1, 0, 1, 2]
    assert frame["participant_action_index"].tolist() == [0, 1, 1, 1, 0, 0, 0, 1]
    assert frame["participant_action"].tolist()[:2] == ["option0", "option1"]
    assert frame["adversary_action_index"].tolist() == [1, 0, 2, 3, 0, 0, 1, 3]
    assert frame["adversary_action"].tolist()[:4] == ["option0", "none", "option1", "both"]
    assert frame["participant_reward"].tolist() == [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    assert frame["adversary_reward"].tolist() == [1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    assert math.isnan(frame.at[1, "reaction_time_ms"]) and frame.at[0, "reaction_time_ms"] == 1200.0
    assert set(frame["game"]) == {"bandit"}
    assert {column: str(dtype) for column, dtype in frame.dtypes.items()
            if column in ("trial", "participant_action_index", "adversary_action_index",
                          "participant_reward", "adversary_reward", "reaction_time_ms")} == {
        "trial": "int64", "participant_action_index": "int64", "adversary_action_index": "int64",
        "participant_reward": "float64", "adversary_reward": "float64", "reaction_time_ms": "float64"}
    # The export's other columns are kept, the timestamps parsed as UTC.
    assert frame["condition"].tolist() == ["shaped"] * 3 + ["random"] * 5
    assert frame.loc[3, "participant_status"] == "playing"
    assert frame.loc[0, "presented_at"] == pd.Timestamp("2025-01-01T10:00:04Z")


@pytest.mark.parametrize("name", ["trials.parquet", "trials.csv.gz"])
def test_platform_parquet_and_gzip_give_the_same_frame_as_csv(tmp_path, name):
    written = platform_frame()
    from_csv = read_trials(write_csv(written, tmp_path / "trials.csv"), game=BANDIT)
    path = tmp_path / name
    if name.endswith(".parquet"):
        written.to_parquet(path, index=False, engine="pyarrow")
    else:
        write_csv(written, path)  # pandas compresses by the .gz suffix
        assert gzip.open(path).read(5) == b"study"
    other = read_trials(path, game=BANDIT)
    canonical = list(other.columns[:10])
    pd.testing.assert_frame_equal(other[canonical], from_csv[canonical])
    pd.testing.assert_series_equal(other["responded_at"], from_csv["responded_at"],
                                   check_dtype=False)
    assert list(other.columns) == list(from_csv.columns)


def test_platform_accepts_unknown_adversary_actions(tmp_path):
    written = platform_frame()
    written.loc[0, ["adversary_action_index", "adversary_action"]] = [-1, None]
    frame = read_trials(write_csv(written, tmp_path / "trials.csv"), game=BANDIT)
    row = frame[(frame["participant"] == P2) & (frame["trial"] == 0)].iloc[0]
    assert row["adversary_action_index"] == -1 and pd.isna(row["adversary_action"])


def test_conditions_keep_only_the_named_conditions(tmp_path):
    path = write_csv(platform_frame(), tmp_path / "trials.csv")
    frame = read_trials(path, game=BANDIT, conditions=["random"])
    assert frame["participant"].unique().tolist() == [P2, P3]
    assert set(frame["condition"]) == {"random"}
    both = read_trials(path, game=BANDIT, conditions=["random", "shaped"])
    assert len(both) == 8


def test_an_absent_condition_is_named_with_those_present(tmp_path):
    path = write_csv(platform_frame(), tmp_path / "trials.csv")
    with pytest.raises(DataFormatError) as error:
        read_trials(path, game=BANDIT, conditions=["random", "tit_for_tat"])
    assert str(error.value) == f"{path}: condition(s) 'tit_for_tat' not in the file; present: random, shaped"


def test_conditions_are_only_for_the_platform_format(tmp_path):
    path = write_text(tmp_path / "bandit.csv", "action,reward,id\n0,1,a\n")
    with pytest.raises(ValueError, match="only to the platform format"):
        read_trials(path, "bandit-choice-engineering", game=BANDIT, conditions=["x"])


# --- round trip into TrialSequences ---------------------------------------------------------


def test_platform_round_trip_into_sequences(tmp_path):
    path = write_csv(platform_frame(), tmp_path / "trials.csv")
    sequences = load_sequences(path, game=BANDIT)

    assert sequences.ids == [P1, P2, P3]
    assert sequences.participant_actions.tolist() == [[0, 1, 1], [1, 0, -1], [0, 0, 1]]
    assert sequences.adversary_actions.tolist() == [[1, 0, 2], [3, 0, -1], [0, 1, 3]]
    assert sequences.participant_rewards.tolist() == [[1, 0, 1], [1, 0, 0], [0, 1, 1]]
    assert sequences.mask.tolist() == [[True] * 3, [True, True, False], [True] * 3]
    assert sequences.game is BANDIT
    assert sequences.provenance == {
        "path": str(path.resolve()), "format": "platform",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "rows": 8, "participants": 3}


def test_round_trip_agrees_with_sequences_from_frame_and_records_conditions(tmp_path):
    path = write_csv(platform_frame(), tmp_path / "trials.csv")
    loaded = load_sequences(path, "platform", game=BANDIT, conditions=["shaped"])
    direct = sequences_from_frame(read_trials(path, game=BANDIT, conditions=["shaped"]), BANDIT)
    assert torch.equal(loaded.participant_actions, direct.participant_actions)
    assert loaded.ids == [P1]
    assert loaded.provenance["conditions"] == ["shaped"] and loaded.provenance["rows"] == 3


# --- bandit-choice-engineering --------------------------------------------------------------

BANDIT_CSV = """action,reward,id,block,schedule_type
0,0,s1.csv,1,STATIC
1,1,s1.csv,1,STATIC
1,0,s1.csv,1,STATIC
1,1,007,2,dynamic
0,1,007,2,dynamic
"""


def test_bandit_mapping(tmp_path):
    path = write_text(tmp_path / "bandit.csv", BANDIT_CSV)
    frame = read_trials(path, "bandit-choice-engineering", game=BANDIT)

    assert frame["participant"].tolist() == ["007", "007", "s1.csv", "s1.csv", "s1.csv"]
    assert frame["trial"].tolist() == [0, 1, 0, 1, 2]
    assert frame["participant_action_index"].tolist() == [1, 0, 0, 1, 1]
    assert frame["participant_action"].tolist() == ["option1", "option0", "option0", "option1", "option1"]
    assert frame["participant_reward"].tolist() == [1.0, 1.0, 0.0, 1.0, 0.0]
    assert frame["adversary_action_index"].tolist() == [-1] * 5
    assert frame["adversary_action"].isna().all()
    assert frame["adversary_reward"].isna().all() and frame["reaction_time_ms"].isna().all()
    assert set(frame["game"]) == {"bandit"}
    assert frame["block"].tolist() == [2, 2, 1, 1, 1]
    assert frame["schedule_type"].tolist() == ["dynamic", "dynamic", "STATIC", "STATIC", "STATIC"]

    sequences = load_sequences(path, "bandit-choice-engineering", game=BANDIT)
    assert sequences.participant_actions.tolist() == [[1, 0, -1], [0, 1, 1]]
    assert sequences.adversary_actions.tolist() == [[-1, -1, -1], [-1, -1, -1]]
    assert sequences.provenance["format"] == "bandit-choice-engineering"


def test_bandit_bad_action_names_file_line_and_column(tmp_path):
    lines = ["action,reward,id"] + ["0,1,a"] * 15 + ["x,0,a"]  # the bad row is line 17
    path = write_text(tmp_path / "bandit.csv", "\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as error:
        read_trials(path, "bandit-choice-engineering", game=BANDIT)
    assert str(error.value) == f"{path}, line 17, column 'action': expected 0 or 1, got 'x'"


def test_blank_lines_do_not_shift_line_numbers(tmp_path):
    path = write_text(tmp_path / "bandit.csv", "action,reward,id\n0,1,a\n\n1,2,a\n")
    expected = r"bandit\.csv, line 4, column 'reward': expected 0 or 1, got 2$"
    with pytest.raises(DataFormatError, match=expected):
        read_trials(path, "bandit-choice-engineering", game=BANDIT)


def test_bandit_missing_column(tmp_path):
    path = write_text(tmp_path / "trials.csv", "action,id\n0,a\n")
    with pytest.raises(DataFormatError) as error:
        read_trials(path, "bandit-choice-engineering", game=BANDIT)
    assert str(error.value) == f"{path}: missing column(s) 'reward'; expected action, reward, id"


def test_bandit_id_split_in_two_runs(tmp_path):
    path = write_text(tmp_path / "bandit.csv", "action,reward,id\n0,1,a\n0,1,b\n1,1,a\n")
    with pytest.raises(DataFormatError) as error:
        read_trials(path, "bandit-choice-engineering", game=BANDIT)
    message = str(error.value)
    assert message.startswith(f"{path}, line 4, column 'id': expected the rows of id 'a' to be consecutive")
    assert message.endswith("already appeared from line 2")


def test_bandit_needs_the_bandit_game(tmp_path):
    path = write_text(tmp_path / "bandit.csv", BANDIT_CSV)
    expected = r"bandit\.csv: .*'bandit' trials, but the game passed is 'gonogo'"
    with pytest.raises(DataFormatError, match=expected):
        read_trials(path, "bandit-choice-engineering", game=GONOGO)


# --- gonogo-self-regulation -----------------------------------------------------------------

GONOGO_CSV = """worker_id,trial_num,condition,key_press,rt,correct
s002,0.0,go,32.0,406.0,True
s002,1.0,nogo,-1.0,-1.0,True
s002,2.0,nogo,32.0,250.0,False
s002,3.0,go,-1.0,-1.0,False
s001,1.0,go,32.0,300.0,True
s001,0.0,nogo,-1.0,-1.0,True
"""


def test_gonogo_mapping(tmp_path):
    path = tmp_path / "gonogo.csv.gz"
    path.write_bytes(gzip.compress(GONOGO_CSV.encode()))
    frame = read_trials(path, "gonogo-self-regulation", game=GONOGO)

    assert frame["participant"].tolist() == ["s001"] * 2 + ["s002"] * 4
    assert frame["trial"].tolist() == [0, 1, 0, 1, 2, 3]
    assert frame["participant_action"].tolist() == [
        "withhold", "respond", "respond", "withhold", "respond", "withhold"]
    assert frame["participant_action_index"].tolist() == [0, 1, 1, 0, 1, 0]
    assert frame["adversary_action"].tolist() == ["nogo", "go", "go", "nogo", "nogo", "go"]
    assert frame["adversary_action_index"].tolist() == [1, 0, 0, 1, 1, 0]
    assert frame["participant_reward"].tolist() == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    assert frame["adversary_reward"].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    rt = frame["reaction_time_ms"].tolist()
    assert rt[1:3] == [300.0, 406.0] and rt[4] == 250.0
    assert all(math.isnan(rt[i]) for i in (0, 3, 5))
    assert set(frame["game"]) == {"gonogo"}


def test_gonogo_correct_disagreeing_with_the_actions(tmp_path):
    text = GONOGO_CSV.replace("s002,2.0,nogo,32.0,250.0,False", "s002,2.0,nogo,32.0,250.0,True")
    path = write_text(tmp_path / "gonogo.csv", text)
    with pytest.raises(DataFormatError) as error:
        read_trials(path, "gonogo-self-regulation", game=GONOGO)
    assert str(error.value) == (f"{path}, line 4, column 'correct': expected False "
                                "(a press on a no-go trial is an error), got True")


def test_gonogo_trial_number_not_whole(tmp_path):
    path = write_text(tmp_path / "gonogo.csv", GONOGO_CSV.replace("s002,1.0,", "s002,1.5,"))
    expected = r"line 3, column 'trial_num': expected a whole trial number ≥ 0, got 1.5$"
    with pytest.raises(DataFormatError, match=expected):
        read_trials(path, "gonogo-self-regulation", game=GONOGO)


def test_gonogo_trials_with_a_gap_name_participant_and_line(tmp_path):
    path = write_text(tmp_path / "gonogo.csv", GONOGO_CSV.replace("s002,3.0,", "s002,4.0,"))
    with pytest.raises(DataFormatError) as error:
        read_trials(path, "gonogo-self-regulation", game=GONOGO)
    assert str(error.value).startswith(
        f"{path}, line 5, column 'trial_num': participant 's002': expected trial 3")
    assert str(error.value).endswith("got 4")


def test_gonogo_unknown_condition(tmp_path):
    path = write_text(tmp_path / "gonogo.csv", GONOGO_CSV.replace("s001,0.0,nogo", "s001,0.0,stop"))
    expected = r"line 7, column 'condition': expected 'go' or 'nogo', got 'stop'$"
    with pytest.raises(DataFormatError, match=expected):
        read_trials(path, "gonogo-self-regulation", game=GONOGO)


def test_gonogo_needs_the_gonogo_game(tmp_path):
    path = write_text(tmp_path / "gonogo.csv", GONOGO_CSV)
    with pytest.raises(DataFormatError, match="'gonogo' trials, but the game passed is 'bandit'"):
        read_trials(path, "gonogo-self-regulation", game=BANDIT)


# --- ipd-human-games ------------------------------------------------------------------------

IPD_HEADER = ("sequence,study,treatment,period,action,partner_action,payoff,partner_payoff,"
              "R,S,T,P,continuation_probability,error_rate,stochastic_payoffs,horizon")
IPD_ROWS = [
    # a finite game of 3 periods (d is 1 before the last period and 0 at it)
    "1,BR,1,1,C,D,0.0,0.2,0.1,0.0,0.2,0.05,1.0,0.0,0,finite",  # line 2
    "1,BR,1,2,C,C,0.1,0.1,0.1,0.0,0.2,0.05,1.0,0.0,0,finite",  # line 3
    "1,BR,1,3,D,,,,0.1,0.0,0.2,0.05,0.0,0.0,0,finite",  # line 4
    # open-ended games of another study, on another scale
    "2,DF,3,1,D,C,0.4,0.0,0.3,0.0,0.4,0.1,0.75,0.0,0,indefinite",  # line 5
    "2,DF,3,2,D,,,,0.3,0.0,0.4,0.1,0.75,0.0,0,indefinite",  # line 6
    "3,DF,4,1,C,,,,0.3,0.0,0.4,0.1,0.5,0.125,1,indefinite",  # line 7
]


def ipd_csv(tmp_path, rows=IPD_ROWS, name="ipd.csv"):
    return write_text(tmp_path / name, "\n".join([IPD_HEADER, *rows]) + "\n")


def test_ipd_human_games_mapping(tmp_path):
    frame = read_trials(ipd_csv(tmp_path), "ipd-human-games", game=IPD)

    assert frame["participant"].tolist() == ["1", "1", "1", "2", "2", "3"]
    assert frame["trial"].tolist() == [0, 1, 2, 0, 1, 0]
    assert frame["period"].tolist() == [1, 2, 3, 1, 2, 1]
    assert frame["participant_action"].tolist() == ["C", "C", "D", "D", "D", "C"]
    assert frame["participant_action_index"].tolist() == [0, 0, 1, 1, 1, 0]
    # The partner's move and both payoffs are missing in each sequence's last period.
    assert frame["adversary_action_index"].tolist() == [1, 0, -1, 0, -1, -1]
    assert frame["adversary_action"].tolist()[:2] == ["D", "C"]
    assert frame["adversary_action"].isna().tolist() == [False, False, True, False, True, True]
    # Payoffs on each row's S..T mapped onto the game's 0..5: 0.1 of 0..0.2 is 2.5.
    assert frame["participant_reward"].tolist()[:2] == pytest.approx([0.0, 2.5])
    assert frame["adversary_reward"].tolist()[:2] == pytest.approx([5.0, 2.5])
    assert frame.at[3, "participant_reward"] == pytest.approx(5.0)
    assert frame.at[3, "adversary_reward"] == pytest.approx(0.0)
    last = [2, 4, 5]
    assert frame.loc[last, ["participant_reward", "adversary_reward"]].isna().all().all()
    assert frame["payoff"].tolist()[:2] == [0.0, 0.1]  # the file's own payoffs are kept
    assert frame["reaction_time_ms"].isna().all() and set(frame["game"]) == {"ipd"}
    assert frame["study"].tolist() == ["BR"] * 3 + ["DF"] * 3
    assert frame["horizon"].tolist() == ["finite"] * 3 + ["indefinite"] * 3
    assert frame["treatment"].tolist() == [1, 1, 1, 3, 3, 4]
    assert frame["stochastic_payoffs"].tolist() == [0, 0, 0, 0, 0, 1]

    names = context_columns(IPD)
    assert names == [CONTEXT_PREFIX + name for name in IPD.spec.participant_context]
    assert list(frame.columns[-len(names):]) == names
    context = frame[names].rename(columns=lambda name: name.removeprefix(CONTEXT_PREFIX))
    assert context["reward_share"].tolist() == pytest.approx([0.5] * 3 + [0.75] * 3)
    assert context["punishment_share"].tolist() == pytest.approx([0.25] * 6)
    assert context["known_length"].tolist() == [1, 1, 1, 0, 0, 0]
    assert context["last_round"].tolist() == [0, 0, 1, 0, 0, 0]
    # Finite: the periods after this one; open-ended: d / (1 - d) expected (3 for d = 0.75).
    assert context["log_rounds_ahead"].tolist() == pytest.approx(
        [math.log1p(2), math.log1p(1), 0.0, math.log1p(3), math.log1p(3), math.log1p(1)])
    assert context["error_rate"].tolist() == pytest.approx([0.0] * 5 + [0.125])


def test_ipd_human_games_round_trip_into_sequences(tmp_path):
    path = ipd_csv(tmp_path)
    sequences = load_sequences(path, "ipd-human-games", game=IPD)
    assert sequences.ids == ["1", "2", "3"]
    assert sequences.participant_actions.tolist() == [[0, 0, 1], [1, 1, -1], [0, -1, -1]]
    assert sequences.adversary_actions.tolist() == [[1, 0, -1], [0, -1, -1], [-1, -1, -1]]
    assert sequences.provenance["format"] == "ipd-human-games"
    assert sequences.provenance["participants"] == 3 and sequences.provenance["rows"] == 6
    if getattr(sequences, "context", None) is not None:
        assert sequences.participant_rewards.tolist() == [[0, 2.5, 0], [5, 0, 0], [0, 0, 0]]
        assert tuple(sequences.context.shape) == (3, 3, len(IPD.spec.participant_context))
        assert sequences.context[0, :, 3].tolist() == [0, 0, 1]  # last_round


def replace_line(line, old, new):
    """IPD_ROWS with one line of the file (header = 1) changed."""
    rows = list(IPD_ROWS)
    assert old in rows[line - 2]
    rows[line - 2] = rows[line - 2].replace(old, new, 1)
    return rows


@pytest.mark.parametrize("rows, expected", [
    (replace_line(3, ",C,C,", ",X,C,"), "line 3, column 'action': expected 'C' or 'D', got 'X'"),
    (replace_line(2, ",C,D,", ",C,,"),
     "line 2, column 'partner_action': expected 'C' or 'D' (empty only in a sequence's last "
     "period), got an empty value"),
    (replace_line(3, ",C,C,", ",C,Z,"),
     "line 3, column 'partner_action': expected 'C' or 'D', or an empty value in a sequence's "
     "last period, got 'Z'"),
    (replace_line(3, ",0.1,0.1,", ",,0.1,"),
     "line 3, column 'payoff': expected a number (empty only in a sequence's last period), got "
     "an empty value"),
    (replace_line(4, "1,BR,1,3,", "1,BR,1,4,"),
     "line 4, column 'period': participant '1': expected period 3 (periods numbered 1, 2, 3, "
     "... without gaps or repeats), got 4"),
    (replace_line(2, "1,BR,1,1,", "1,BR,1,1.5,"),
     "line 2, column 'period': expected a whole period number ≥ 1, got 1.5"),
    (replace_line(5, "0.3,0.0,0.4,", "0.3,0.0,0.3,"),
     "line 5, column 'T': expected T > R (a prisoner's dilemma needs T > R > P > S), got T = 0.3 "
     "and R = 0.3"),
    (replace_line(3, ",0.0,0.2,0.05,", ",0.0,0.2,-0.05,"),
     "line 3, column 'P': expected P > S (a prisoner's dilemma needs T > R > P > S), got "
     "P = -0.05 and S = 0"),
    (replace_line(7, "indefinite", "sometimes"),
     "line 7, column 'horizon': expected 'finite', 'indefinite' or 'continuous', got 'sometimes'"),
    (replace_line(6, ",0.3,0.0,", ",0.35,0.0,"),
     "line 6, column 'R': sequence '2': expected 0.3 (the value from line 5; R is constant "
     "within a sequence), got 0.35"),
    (replace_line(6, ",indefinite", ",finite"),
     "line 6, column 'horizon': sequence '2': expected 'indefinite' (the value from line 5; "
     "horizon is constant within a sequence), got 'finite'"),
    (replace_line(6, ",0.75,", ",0.5,"),
     "line 6, column 'continuation_probability': sequence '2': expected 0.75 (the value from "
     "line 5; continuation_probability is constant within a sequence where the horizon is not "
     "finite), got 0.5"),
    (replace_line(7, ",0.5,", ",1.0,"),
     "line 7, column 'continuation_probability': expected a probability below 1 where the "
     "horizon is not finite (the rounds ahead are expected to be d / (1 - d)), got 1"),
    (replace_line(7, ",0.5,", ",1.5,"),
     "line 7, column 'continuation_probability': expected a probability in [0, 1], got 1.5"),
    (replace_line(7, ",0.125,", ",0.7,"),
     "line 7, column 'error_rate': expected an error rate in [0, 0.5), got 0.7"),
    (replace_line(7, ",0.125,1,", ",0.125,2,"),
     "line 7, column 'stochastic_payoffs': expected 0 or 1, got 2"),
    (replace_line(5, "2,DF,", "2,,"), "line 5, column 'study': expected a study name, got an "
     "empty value"),
    (replace_line(7, "3,DF,", "1,DF,"),
     "line 7, column 'sequence': expected the rows of id '1' to be consecutive (one sequence per "
     "id, in trial order), but it already appeared from line 2"),
], ids=["action", "partner-empty-early", "partner-unknown", "payoff-empty-early", "period-gap",
        "period-fraction", "T-not-above-R", "P-not-above-S", "horizon", "R-varies",
        "horizon-varies", "d-varies", "d-one-open-ended", "d-above-one", "error-rate",
        "stochastic", "study-empty", "sequence-split"])
def test_ipd_human_games_bad_rows_name_line_and_column(tmp_path, rows, expected):
    path = ipd_csv(tmp_path, rows)
    with pytest.raises(DataFormatError) as error:
        read_trials(path, "ipd-human-games", game=IPD)
    assert str(error.value) == f"{path}, {expected}"


def test_ipd_human_games_finite_d_may_be_anything_in_0_1(tmp_path):
    """One study's finite games say 0.9 in every period: only open-ended games use d."""
    rows = [row.replace(",1.0,0.0,0,finite", ",0.9,0.0,0,finite")
            .replace(",0.0,0.0,0,finite", ",0.9,0.0,0,finite") for row in IPD_ROWS]
    frame = read_trials(ipd_csv(tmp_path, rows), "ipd-human-games", game=IPD)
    assert frame["continuation_probability"].tolist()[:3] == [0.9] * 3
    assert frame["context_log_rounds_ahead"].tolist()[:3] == pytest.approx(
        [math.log1p(2), math.log1p(1), 0.0])


def test_ipd_human_games_missing_column_and_game(tmp_path):
    rows = [row.rsplit(",", 1)[0] for row in IPD_ROWS]
    path = write_text(tmp_path / "ipd.csv",
                      "\n".join([IPD_HEADER.rsplit(",", 1)[0], *rows]) + "\n")
    with pytest.raises(DataFormatError, match=r"ipd\.csv: missing column\(s\) 'horizon'; "):
        read_trials(path, "ipd-human-games", game=IPD)
    with pytest.raises(DataFormatError, match="'ipd' trials, but the game passed is 'bandit'"):
        read_trials(ipd_csv(tmp_path), "ipd-human-games", game=BANDIT)


IPD_HUMAN_GAMES = Path(__file__).resolve().parents[3] / "shared" / "data" / "ipd_human_games.csv.gz"


@pytest.mark.skipif(not IPD_HUMAN_GAMES.exists(), reason=f"{IPD_HUMAN_GAMES} is not here")
def test_the_human_ipd_games_load():
    frame = read_trials(IPD_HUMAN_GAMES, "ipd-human-games", game=IPD)
    assert len(frame) == 149198 and frame["participant"].nunique() == 26026
    assert sorted(frame["study"].unique()) == ["AM", "BR", "DF", "DO", "FO", "FR", "KS"]
    # Exactly one row per sequence lacks the partner's move: its last period.
    assert (frame["adversary_action_index"] == -1).sum() == 26026
    assert frame[context_columns(IPD)].notna().all().all()
    sequences = load_sequences(IPD_HUMAN_GAMES, "ipd-human-games", game=IPD)
    assert sequences.n_sequences == 26026 and sequences.n_choices == 149198
    if getattr(sequences, "context", None) is not None:
        assert tuple(sequences.context.shape) == (26026, 38, len(IPD.spec.participant_context))


# --- platform errors ------------------------------------------------------------------------


def test_platform_file_of_another_game(tmp_path):
    path = write_csv(platform_frame(), tmp_path / "trials.csv")
    with pytest.raises(DataFormatError) as error:
        read_trials(path, game=GONOGO)
    assert str(error.value) == (f"{path}, line 2, column 'game': "
                                "expected 'gonogo' (the game passed in), got 'bandit'")


def test_platform_action_index_out_of_range_in_parquet(tmp_path):
    written = platform_frame()
    written.loc[4, "participant_action_index"] = 2
    path = tmp_path / "trials.parquet"
    written.to_parquet(path, index=False)
    with pytest.raises(DataFormatError) as error:
        read_trials(path, game=BANDIT)
    assert str(error.value) == (f"{path}, row 5, column 'participant_action_index': "
                                "expected an action index in 0..1 (option0, option1), got 2")


def test_platform_action_name_disagreeing_with_index(tmp_path):
    written = platform_frame()
    written.loc[2, "adversary_action"] = "both"
    path = write_csv(written, tmp_path / "trials.csv")
    expected = r"line 4, column 'adversary_action': expected 'option0' .*, got 'both'$"
    with pytest.raises(DataFormatError, match=expected):
        read_trials(path, game=BANDIT)


def test_platform_trials_not_numbered_from_zero(tmp_path):
    written = platform_frame()
    written.loc[written["participant"] == P3, "trial"] = [1, 2, 3]
    path = write_csv(written, tmp_path / "trials.csv")
    with pytest.raises(DataFormatError) as error:
        read_trials(path, game=BANDIT)
    assert str(error.value).startswith(
        f"{path}, line 7, column 'trial': participant '{P3}': expected trial 0 "
        "(trials numbered 0, 1, 2, ... without gaps or repeats), got 1")


def test_platform_repeated_trial(tmp_path):
    written = platform_frame()
    written.loc[4, "trial"] = 1  # P1 now has trials 0, 1, 1
    path = write_csv(written, tmp_path / "trials.csv")
    expected = rf"line 6, column 'trial': participant '{P1}': expected trial 2 .*got 1$"
    with pytest.raises(DataFormatError, match=expected):
        read_trials(path, game=BANDIT)


def test_platform_missing_reward(tmp_path):
    written = platform_frame()
    written.loc[1, "participant_reward"] = None
    path = write_csv(written, tmp_path / "trials.csv")
    expected = r"line 3, column 'participant_reward': expected a number, got an empty value$"
    with pytest.raises(DataFormatError, match=expected):
        read_trials(path, game=BANDIT)


# --- errors common to all formats -----------------------------------------------------------


def test_unknown_format_lists_the_valid_ones(tmp_path):
    with pytest.raises(DataFormatError) as error:
        read_trials(tmp_path / "x.csv", "dezfouli", game=BANDIT)
    assert str(error.value) == f"unknown data format 'dezfouli'; expected one of {', '.join(DATA_FORMATS)}"


def test_file_not_found(tmp_path):
    path = tmp_path / "nothing.csv"
    with pytest.raises(DataFormatError, match=rf"^{re.escape(str(path))}: file not found$"):
        read_trials(path, game=BANDIT)


def test_unknown_file_type(tmp_path):
    path = write_text(tmp_path / "trials.xlsx", "x")
    expected = r"trials\.xlsx: unknown file type; expected a name ending in \.csv, \.csv\.gz, \.parquet"
    with pytest.raises(DataFormatError, match=expected):
        read_trials(path, game=BANDIT)


def test_empty_file_and_header_without_rows(tmp_path):
    empty = write_text(tmp_path / "empty.csv", "")
    with pytest.raises(DataFormatError, match=rf"^{re.escape(str(empty))}: the file is empty$"):
        read_trials(empty, "bandit-choice-engineering", game=BANDIT)
    header = write_text(tmp_path / "header.csv", "action,reward,id\n")
    expected = rf"^{re.escape(str(header))}: the file has a header but no trials$"
    with pytest.raises(DataFormatError, match=expected):
        read_trials(header, "bandit-choice-engineering", game=BANDIT)


def test_unreadable_parquet_and_csv_name_the_file(tmp_path):
    parquet = tmp_path / "broken.parquet"
    parquet.write_bytes(b"not a parquet file at all")
    expected = rf"^{re.escape(str(parquet))}: could not read the file as Parquet: "
    with pytest.raises(DataFormatError, match=expected):
        read_trials(parquet, game=BANDIT)
    csv = tmp_path / "broken.csv.gz"
    csv.write_bytes(b"not gzip data")
    expected = rf"^{re.escape(str(csv))}: could not read the file as CSV: "
    with pytest.raises(DataFormatError, match=expected):
        read_trials(csv, "gonogo-self-regulation", game=GONOGO)
    ragged = write_text(tmp_path / "ragged.csv", "action,reward,id\n0,1,a\n0,1,a,extra,fields\n")
    expected = rf"^{re.escape(str(ragged))}: could not read the file as CSV: .*line 3"
    with pytest.raises(DataFormatError, match=expected):
        read_trials(ragged, "bandit-choice-engineering", game=BANDIT)
