"""experiments/robustness.py with tiny settings: leave-one-family-out on a small bandit."""

import json

import pytest

from shaping_core.policies.checkpoint import load_policy
from shaping_core.surrogate.checkpoint import load_surrogate
from shaping_core.surrogate.model import SurrogateParticipant
from shaping_core.transfer import EVAL_SEED, rate_per_episode

from helpers import load_experiment


def test_each_family_is_held_out_and_reported_beside_random_and_its_optimum(tiny_bandit_surrogate, tmp_path, capsys):
    surrogate = tiny_bandit_surrogate
    robustness = load_experiment("robustness")
    out = tmp_path / "out"
    argv = ["--game", "bandit", "--surrogate", str(surrogate), "--held-out-surrogate", str(surrogate),
            "--families", "q_learning", "beta_bernoulli_softmax", "--seeds", "2", "--method", "ppo", "--iterations", "1",
            "--batch-size", "8", "--eval-episodes", "16", "--optimum-participants", "2", "--grid", "5",
            "--jobs", "1", "--out", str(out)]
    assert robustness.main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [row["family"] for row in summary["families"]] == ["q_learning", "beta_bernoulli_softmax"]
    for name in ("config.json", "metrics.json", "robustness.csv", "robustness.png",
                 "adversaries/without-q_learning-seed1.pt", "adversaries/surrogate-only-seed0.pt",
                 "adversaries/whole-zoo-seed1.pt"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    q = metrics["families"]["q_learning"]
    assert len(q["held_out"]["seeds"]) == 2 and q["optimum"]["participants"] == 2
    optimum, random = q["optimum"]["mean"], q["random"]["mean"]
    assert q["fraction_held_out"]["seeds"] == pytest.approx([(r - random) / (optimum - random)
                                                             for r in q["held_out"]["seeds"]])
    assert metrics["families"]["beta_bernoulli_softmax"]["optimum"] is None  # no tabular form
    # Each adversary also plays the training surrogate (counterbalanced), the same people for all.
    loaded = load_surrogate(surrogate)
    people = SurrogateParticipant(loaded.game, loaded.net)
    for summary, name in ((q["held_out_against_surrogate"], "without-q_learning"),
                          (metrics["against_surrogate"]["surrogate_only"], "surrogate-only")):
        assert summary["seeds"] == pytest.approx([
            float(rate_per_episode(loaded.game, load_policy(out / "adversaries" / f"{name}-seed{seed}.pt"), people,
                                   16, EVAL_SEED).mean()) for seed in (0, 1)])
    assert len(metrics["held_out_people"]["whole_zoo"]["seeds"]) == 2
    config = json.loads((out / "config.json").read_text())
    without_q = json.loads((out / "adversaries" / "without-q_learning-seed0" / "config.json").read_text())
    assert "q_learning" not in without_q["population"]["families"] and config["seeds"] == 2

    # Run again on the same folder: the adversaries are reused, the figures are the same.
    before = {p.name: p.stat().st_mtime_ns for p in (out / "adversaries").glob("*.pt")}
    assert robustness.main(argv) == 0
    assert {p.name: p.stat().st_mtime_ns for p in (out / "adversaries").glob("*.pt")} == before
    assert json.loads((out / "metrics.json").read_text())["families"] == metrics["families"]


def test_without_a_method_the_adversaries_are_trained_as_the_game_ships_them_and_other_options_are_refused(
        tiny_bandit_surrogate, tmp_path, capsys):
    """The bandit's max default (Game.default_training): fitted Q, surrogate share 0.9, pace lag 6,
    two plans."""
    surrogate = tiny_bandit_surrogate
    robustness = load_experiment("robustness")
    out = tmp_path / "out"
    assert robustness.main(["--game", "bandit", "--surrogate", str(surrogate), "--families", "wsls", "--seeds", "1",
                            "--other-surrogates", str(surrogate), "--training-surrogate-part", "0.6",
                            "--passes", "1", "--episodes", "16", "--fit-steps", "2",
                            "--width", "4", "--eval-episodes", "16", "--optimum-participants", "2", "--grid", "5",
                            "--jobs", "1", "--out", str(out)]) == 0
    trained = json.loads((out / "adversaries" / "without-wsls-seed0" / "config.json").read_text())
    assert trained["method"] == "fitted-q" and "wsls" not in trained["population"]["families"]
    assert trained["settings"]["passes"] == 1 and trained["settings"]["pace_lag"] == 6
    assert trained["settings"]["plans"] == 2
    assert trained["population"]["surrogate_share"] == 0.9
    assert trained["population"]["other_surrogates"] == [str(surrogate)]
    assert trained["population"]["training_surrogate_part"] == 0.6
    config = json.loads((out / "config.json").read_text())
    assert (config["method"], config["surrogate_share"], config["pace_lag"]) == ("fitted-q", 0.9, 6)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        robustness.main(["--game", "bandit", "--surrogate", str(surrogate), "--method", "fitted-q",
                         "--iterations", "3", "--out", str(tmp_path / "other")])
    assert "--iterations applies to --method ppo, not fitted-q" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="robustness.py: other surrogate: .*missing.pt: no such file"):
        robustness.main(["--game", "bandit", "--surrogate", str(surrogate), "--other-surrogates",
                         str(tmp_path / "missing.pt"), "--out", str(tmp_path / "other")])
