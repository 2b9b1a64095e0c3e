"""experiments/split_people.py: every participant's rows go to one half, in the input's format."""

import json

import pandas as pd
import pytest

from helpers import load_experiment


@pytest.fixture(scope="module")
def split():
    return load_experiment("split_people")


def bandit_file(path, people=10, trials=3):
    rows = [{"action": t % 2, "reward": 1, "id": f"p{p}.csv", "block": 1, "schedule_type": "STATIC"}
            for p in range(people) for t in range(trials)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_each_person_lands_in_one_half_with_all_their_rows(split, tmp_path, suffix):
    source = bandit_file(tmp_path / f"data{suffix}")
    assert split.main(["--data", str(source), "--data-format", "bandit-choice-engineering",
                       "--fraction", "0.3", "--seed", "4", "--out", str(tmp_path / "out")]) == 0
    a = pd.read_csv(tmp_path / "out" / f"a{suffix}")
    b = pd.read_csv(tmp_path / "out" / f"b{suffix}")
    record = json.loads((tmp_path / "out" / "split.json").read_text())
    assert sorted(a["id"].unique()) == record["a"] and sorted(b["id"].unique()) == record["b"]
    assert len(record["a"]) == 3 and not set(record["a"]) & set(record["b"])
    assert len(a) + len(b) == 30 and a.groupby("id").size().eq(3).all()
    pd.testing.assert_frame_equal(pd.concat([a, b]).sort_values(["id"], kind="stable").reset_index(drop=True),
                                  pd.read_csv(source).sort_values(["id"], kind="stable").reset_index(drop=True))


def test_the_same_seed_gives_the_same_split(split, tmp_path):
    source = bandit_file(tmp_path / "data.csv")
    for out in ("one", "two"):
        split.main(["--data", str(source), "--data-format", "bandit-choice-engineering", "--out", str(tmp_path / out)])
    assert (tmp_path / "one" / "a.csv").read_bytes() == (tmp_path / "two" / "a.csv").read_bytes()


@pytest.mark.parametrize("arguments, message", [
    (["--fraction", "1"], "--fraction must lie strictly between 0 and 1, got 1"),
    (["--data-format", "platform"], "has no column 'participant' (platform format)"),
])
def test_bad_arguments_say_why(split, tmp_path, capsys, arguments, message):
    source = bandit_file(tmp_path / "data.csv")
    base = ["--data", str(source), "--data-format", "bandit-choice-engineering", "--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as stopped:
        split.main(base + arguments)
    assert message in (str(stopped.value.code) + capsys.readouterr().err)
    assert not (tmp_path / "out" / "a.csv").exists()
