"""experiments/offline_loop.py with tiny settings: simulated data, surrogate, adversaries for two
objectives and two seeds, evaluation against the surrogate and the true learner."""

import json

import pytest
import torch

from helpers import load_experiment

TINY_FIT = ["--participants", "12", "--hidden-sizes", "4", "--folds", "2", "--max-epochs", "2",
            "--patience", "1"]
TINY = [*TINY_FIT, "--iterations", "1", "--batch-size", "8", "--hidden-size", "8",
        "--eval-episodes", "16", "--threads", "1"]


@pytest.fixture(scope="module")
def offline_loop():
    module = load_experiment("offline_loop")
    threads = torch.get_num_threads()
    yield module
    torch.set_num_threads(threads)  # the script sets --threads for the whole process


def test_runs_the_loop_and_reports_every_seed(offline_loop, tmp_path, capsys):
    out = tmp_path / "trust"
    assert offline_loop.main(["--game", "trust", "--learner", "investor", "--objectives", "max",
                              "fair", "--seeds", "2", "--out", str(out), *TINY]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["surrogate_fit"]["hidden_size"] == 4
    for opponent in ("surrogate", "learner:investor"):
        for objective in ("max", "fair"):
            gap = summary[opponent][objective]["earnings_gap"]
            assert len(gap["seeds"]) == 2 and gap["mean"] == pytest.approx(sum(gap["seeds"]) / 2)
        assert "earnings_gap" in summary[opponent]["baseline"]
    for name in ("config.json", "metrics.json", "results.png", "data.parquet", "surrogate.pt",
                 "adversaries/max-seed1.pt", "adversaries/fair-seed0/learning_curve.png"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["seeds"] == [0, 1] and config["learner"] == "investor"


def test_fitted_q_adversaries_for_the_bandit(offline_loop, tmp_path, capsys):
    out = tmp_path / "bandit"
    assert offline_loop.main(["--game", "bandit", "--learner", "q_learning", "--objectives", "max",
                              "--method", "fitted-q", "--passes", "1", "--episodes", "32", "--fit-steps", "5",
                              "--seeds", "2",
                              "--out", str(out), *TINY_FIT, "--eval-episodes", "16", "--threads", "1"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["method"] == "fitted-q"
    for opponent in ("surrogate", "learner:q_learning"):
        assert len(summary[opponent]["max"]["target_rate"]["seeds"]) == 2
    config = json.loads((out / "adversaries" / "max-seed1" / "config.json").read_text())
    assert config["method"] == "fitted-q" and config["settings"]["episodes"] == 32
    assert config["settings"]["fit_steps"] == 5


@pytest.mark.parametrize("args, message", [
    (["--game", "bandit"], "give either --data"),
    (["--game", "bandit", "--learner", "q_learning", "--data", "x.csv"], "give either --data"),
    (["--game", "bandit", "--learner", "q_learning", "--objectives", "fair"], "has no fair objective"),
    (["--game", "trust", "--learner", "q_learning"], "cannot play"),
    (["--game", "bandit", "--learner", "q_learning", "--method", "fitted-q"],
     "--method fitted-q trains the max objective only"),
    (["--game", "trust", "--learner", "investor", "--objectives", "max", "--method", "fitted-q"],
     "needs a game where the adversary moves first"),
    (["--game", "bandit", "--learner", "q_learning", "--objectives", "max", "--method", "fitted-q",
      "--iterations", "3"], "--iterations applies to --method ppo, not fitted-q"),
    (["--game", "bandit", "--learner", "q_learning", "--passes", "3"],
     "--passes applies to --method fitted-q, not ppo"),
])
def test_bad_arguments_exit_2_with_a_message(offline_loop, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        offline_loop.main([*args, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
