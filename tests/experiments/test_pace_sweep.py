"""experiments/pace_sweep.py with tiny settings: fitted Q against the surrogate and the zoo, with
and without the pace rule, measured against the surrogate and every family."""

import json
import re
from pathlib import Path

import pytest

from helpers import load_experiment


def test_every_share_and_lag_is_planned_and_measured(tiny_bandit_surrogate, tmp_path, capsys):
    pace_sweep = load_experiment("pace_sweep")
    out = tmp_path / "out"
    argv = ["--surrogate", str(tiny_bandit_surrogate), "--shares", "0.5", "--pace-lags", "none", "0", "--seeds", "1",
            "--passes", "1", "--episodes", "32", "--fit-steps", "2", "--width", "4", "--eval-episodes-per-pass",
            "8", "--eval-episodes", "16", "--optimum-participants", "1", "--grid", "3", "--jobs", "1",
            "--out", str(out)]
    assert pace_sweep.main(argv) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [row["pace_lag"] for row in rows] == ["none", 0]
    for name in ("config.json", "metrics.json", "pace_sweep.csv", "pace_sweep.png",
                 "adversaries/share0.5-lag0-seed0.pt", "adversaries/share0.5-lagNone-seed0.pt"):
        assert (out / name).is_file(), name
    adversaries = json.loads((out / "metrics.json").read_text())["adversaries"]
    paced = next(a for a in adversaries if a["pace_lag"] == 0)
    # Lag 0 in 8 trials with 2 rewards per option: at most one reward behind the even pace, so
    # the last quarter (2 trials) holds at most one of the other option's two rewards.
    assert paced["surrogate"]["other_rewards_by_quarter"][-1] <= 0.5
    assert sum(paced["surrogate"]["other_rewards_by_quarter"]) == pytest.approx(1)
    assert set(paced["families"]) >= {"q_learning", "wsls", "recent_mean"}
    q = paced["families"]["q_learning"]
    assert 0 <= q["last_quarter_rate"] <= 1 and q["fraction"] is not None

    # Again with a checkpoint to compare: the adversaries are reused, the figures the same, and
    # the checkpoint is measured as the sweep's are.
    compared = str(out / "adversaries" / "share0.5-lag0-seed0.pt")
    assert pace_sweep.main([*argv, "--compare", compared]) == 0
    rows_again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rows_again[:2] == rows and rows_again[2]["surrogate_share"] == compared
    again = json.loads((out / "metrics.json").read_text())
    assert again["compared"][0]["surrogate"] == paced["surrogate"]


def test_a_checkpoint_of_another_game_cannot_be_compared(tiny_bandit_surrogate, tmp_path):
    pace_sweep = load_experiment("pace_sweep")
    shipped = Path(__file__).resolve().parents[2] / "shaping_core" / "checkpoints" / "defaults" / "bandit-max.pt"
    with pytest.raises(SystemExit, match="is for the bandit with"):
        pace_sweep.main(["--surrogate", str(tiny_bandit_surrogate), "--out", str(tmp_path), "--shares", "0.5",
                         "--pace-lags", "none", "--seeds", "1", "--compare", str(shipped)])


@pytest.mark.parametrize("argv, message", [
    (["--pace-lags", "-1"], "a pace lag is at least 0"),
    (["--pace-lags", "soon"], "expected a whole number or 'none'"),
    (["--shares", "0"], r"a surrogate share lies in \(0, 1\]"),
    (["--seeds", "0"], "argument --seeds: must be at least 1, got 0"),
])
def test_bad_arguments_are_refused_with_a_message(argv, message, capsys):
    pace_sweep = load_experiment("pace_sweep")
    with pytest.raises(SystemExit):
        pace_sweep.parse_args(["--surrogate", "S.pt", "--out", "o", *argv])
    assert re.search(message, " ".join(capsys.readouterr().err.split()))
