"""The closed loop on the command line: `python -m shaping_core fit-surrogate`, `evaluate-surrogate`,
`train-adversary` and `evaluate-adversary`, run in-process with tiny settings."""

import contextlib
import io
import json
from pathlib import Path

import pytest
import torch

from shaping_core.__main__ import main
from shaping_core.data import load_sequences
from shaping_core.games import make_game
from shaping_core.learners import zoo_for
from shaping_core.policies.checkpoint import load_policy, save_policy
from shaping_core.policies.gru import GRUPolicy
from shaping_core.policies.shaping import ShapingAdversary
from shaping_core.policies.shaping_q import PlanMean, QShapingAdversary
from shaping_core.surrogate.checkpoint import load_surrogate, save_surrogate
from shaping_core.surrogate.model import SurrogateNet
from shaping_core.surrogate.fit import evaluate_surrogate

BANDIT = {"trials": 12, "rewards_per_option": 3}
BANDIT_JSON = json.dumps(BANDIT)
TINY_FIT = ["--hidden-sizes", "2,3", "--folds", "2", "--max-epochs", "3", "--threads", "1",
            "--device", "cpu"]
TINY_TRAIN = ["--method", "ppo", "--iterations", "2", "--batch-size", "32", "--hidden-size", "8", "--eval-episodes",
              "32", "--threads", "1", "--device", "cpu"]



def run(argv: list[str]) -> tuple[dict, str]:
    """main(argv) in-process: its last printed line as JSON, and everything it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([str(a) for a in argv]) == 0
    printed = out.getvalue()
    return json.loads(printed.strip().splitlines()[-1]), printed


def simulate(path: Path, game="bandit", params=BANDIT, participants=16, seed=0) -> Path:
    run(["simulate", "--game", game, "--game-params", json.dumps(params), "--learner", "q_learning",
         "--learner-params", '{"kappa": 2.0, "beta": 5.0}', "--adversary",
         "random_schedule" if game == "bandit" else "random", "--participants", participants,
         "--seed", seed, "--out", path])
    return path


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    """One pass round the loop: simulated data, a fitted surrogate, an adversary trained against it."""
    threads = torch.get_num_threads()
    folder = tmp_path_factory.mktemp("loop")
    data = simulate(folder / "data.csv")
    fitted, fit_printed = run(["fit-surrogate", "--game", "bandit", "--game-params", BANDIT_JSON,
                               "--data", data, "--out", folder / "S.pt", *TINY_FIT])
    trained, _ = run(["train-adversary", "--game", "bandit", "--surrogate", folder / "S.pt",
                      "--objective", "max", "--out", folder / "A.pt", *TINY_TRAIN])
    torch.set_num_threads(threads)
    return {"folder": folder, "data": data, "surrogate": folder / "S.pt", "adversary": folder / "A.pt",
            "fitted": fitted, "fit_printed": fit_printed, "trained": trained}


def test_fit_surrogate_writes_a_checkpoint_and_its_report(loop):
    fitted, folder = loop["fitted"], loop["folder"]
    for key in ("nll_per_choice", "accuracy", "choices", "nll_per_choice_std", "baseline_nll_per_choice",
                "hidden_size", "epochs", "folds", "out", "report"):
        assert key in fitted, key
    assert fitted["choices"] == 16 * BANDIT["trials"] and fitted["hidden_size"] in (2, 3)
    assert fitted["folds"] == 2 and 1 <= fitted["epochs"] <= 3
    assert {Path(p).name for p in fitted["report"].values()} == {"config.json", "metrics.json", "cv.png"}
    assert all(Path(p).parent == folder / "S" and Path(p).is_file() for p in fitted["report"].values())
    assert "<- chosen" in loop["fit_printed"] and "constant predictor" in loop["fit_printed"]

    surrogate = load_surrogate(loop["surrogate"])
    assert surrogate.game.params == make_game("bandit", BANDIT).params
    assert surrogate.spec["metrics"]["nll_per_choice"] == fitted["nll_per_choice"]
    assert surrogate.spec["provenance"]["rows"] == 16 * BANDIT["trials"]
    assert surrogate.spec["selection"]["hidden_size"] == fitted["hidden_size"]


def test_bandit_surrogates_are_fitted_on_mirror_images_unless_told_not_to(loop):
    assert load_surrogate(loop["surrogate"]).spec["settings"]["mirror_options"] is True
    run(["fit-surrogate", "--game", "bandit", "--game-params", BANDIT_JSON, "--data", loop["data"],
         "--out", loop["folder"] / "S-as-recorded.pt", "--no-mirror-options", *TINY_FIT])
    as_recorded = load_surrogate(loop["folder"] / "S-as-recorded.pt")
    assert as_recorded.spec["settings"]["mirror_options"] is False
    mirrored = load_surrogate(loop["surrogate"]).net.state_dict()
    assert any(not torch.equal(tensor, mirrored[name]) for name, tensor in as_recorded.net.state_dict().items())


def test_evaluate_surrogate_prints_its_nll_on_the_data(loop):
    summary, _ = run(["evaluate-surrogate", "--model", loop["surrogate"], "--data", loop["data"]])
    assert {"nll_per_choice", "accuracy", "choices"} <= set(summary)
    surrogate = load_surrogate(loop["surrogate"])
    expected = evaluate_surrogate(surrogate.net, load_sequences(loop["data"], game=surrogate.game))
    assert summary["nll_per_choice"] == pytest.approx(expected["nll_per_choice"])
    assert (summary["accuracy"], summary["choices"]) == (expected["accuracy"], expected["choices"])
    # The refit's own in-sample numbers, kept in the checkpoint, are these.
    assert summary["nll_per_choice"] == pytest.approx(surrogate.spec["metrics"]["train"]["nll_per_choice"])


def test_train_adversary_writes_a_servable_checkpoint(loop):
    trained = loop["trained"]
    assert trained["out"] == str(loop["adversary"]) and trained["objective"] == "max"
    assert {"adversary_return", "participant_return", "target_rate", "baseline"} <= set(trained)
    assert set(trained["baseline"]) == {"random_schedule"}
    assert {p.name for p in (loop["folder"] / "A").iterdir()} == {"config.json", "metrics.json",
                                                                  "learning_curve.png"}
    config = json.loads((loop["folder"] / "A" / "config.json").read_text())
    assert config["settings"]["iterations"] == 2 and config["surrogate"] == str(loop["surrogate"])
    adversary = load_policy(loop["adversary"])
    assert isinstance(adversary, ShapingAdversary) and adversary.game.params == make_game("bandit", BANDIT).params
    surrogate = load_surrogate(loop["surrogate"]).net
    for name, tensor in surrogate.state_dict().items():  # it carries the surrogate it was trained with
        assert torch.equal(adversary.surrogate.state_dict()[name], tensor), name


def test_train_adversary_with_fitted_q(loop):
    out = loop["folder"] / "Q.pt"
    trained, _ = run(["train-adversary", "--game", "bandit", "--surrogate", loop["surrogate"],
                      "--objective", "max", "--method", "fitted-q", "--passes", "2", "--episodes", "64", "--fit-steps", "20",
                      "--eval-episodes", "32", "--threads", "1", "--device", "cpu", "--out", out])
    assert trained["method"] == "fitted-q" and 0 <= trained["target_rate"] <= 1
    assert set(trained["baseline"]) == {"random_schedule"}
    config = json.loads((loop["folder"] / "Q" / "config.json").read_text())
    assert config["method"] == "fitted-q" and config["settings"]["passes"] == 2
    assert config["settings"]["episodes"] == 64 and config["settings"]["fit_steps"] == 20
    metrics = json.loads((loop["folder"] / "Q" / "metrics.json").read_text())
    assert [row["iteration"] for row in metrics["learning_curve"]] == [0, 1]
    adversary = load_policy(out)
    assert isinstance(adversary, QShapingAdversary) and adversary.net.n_trials == BANDIT["trials"]
    summary, _ = run(["evaluate-adversary", "--adversary", out, "--against", f"surrogate:{loop['surrogate']}",
                      "--episodes", "32", "--seed", "1"])
    assert summary["target_rate"] == pytest.approx(trained["target_rate"])  # the same seed and episodes


def test_train_adversary_against_the_surrogate_and_the_zoo_holding_one_family_out(loop):
    out = loop["folder"] / "robust.pt"
    trained, _ = run(["train-adversary", "--game", "bandit", "--surrogate", loop["surrogate"], "--objective", "max",
                      "--population", "zoo", "--hold-out", "wsls", "--surrogate-share", "0.25", "--out", out,
                      *TINY_TRAIN])
    config = json.loads((loop["folder"] / "robust" / "config.json").read_text())
    kept = [f.name for f in zoo_for("bandit") if f.name != "wsls"]
    assert config["population"] == {"families": kept, "surrogate_share": 0.25, "other_surrogates": [],
                                    "training_surrogate_part": None}
    metrics = json.loads((loop["folder"] / "robust" / "metrics.json").read_text())
    # Evaluated against every family, the held-out one included.
    assert [row["family"] for row in metrics["against_zoo"]] == [f.name for f in zoo_for("bandit")]
    assert trained["against_zoo"] == metrics["against_zoo"]
    assert load_policy(out).game.params == make_game("bandit", BANDIT).params


def test_fitted_q_plans_against_the_surrogate_and_the_zoo(loop):
    out = loop["folder"] / "robust-q.pt"
    trained, _ = run(["train-adversary", "--game", "bandit", "--surrogate", loop["surrogate"], "--objective", "max",
                      "--method", "fitted-q", "--population", "zoo", "--hold-out", "wsls",
                      "--other-surrogate", loop["surrogate"], "--training-surrogate-part", "0.7",
                      "--passes", "1", "--episodes", "32", "--fit-steps", "2", "--width", "8", "--eval-episodes", "32",
                      "--threads", "1", "--device", "cpu", "--out", out])
    config = json.loads((loop["folder"] / "robust-q" / "config.json").read_text())
    assert trained["method"] == config["method"] == "fitted-q"
    assert config["population"]["families"] == [f.name for f in zoo_for("bandit") if f.name != "wsls"]
    assert config["population"]["other_surrogates"] == [str(loop["surrogate"])]
    assert config["population"]["training_surrogate_part"] == 0.7
    assert isinstance(load_policy(out), QShapingAdversary)


TINY_PLAN = ["--passes", "1", "--episodes", "32", "--fit-steps", "2", "--width", "8", "--eval-episodes", "32",
             "--threads", "1", "--device", "cpu"]


def test_without_a_method_the_game_s_measured_defaults_fill_in_what_is_not_given(loop):
    """The bandit's max objective: fitted Q against the surrogate and the zoo (surrogate share 0.9)
    under the pace rule (lag 6), the mean of two plans, each overridable on the command line."""
    folder = loop["folder"]
    trained, printed = run(["train-adversary", "--game", "bandit", "--surrogate", loop["surrogate"],
                            "--objective", "max", "--out", folder / "plain.pt", *TINY_PLAN])
    assert ("the measured defaults --method fitted-q --population zoo --surrogate-share 0.9 --pace-lag 6 "
            "--plans 2\n" in printed)
    config = json.loads((folder / "plain" / "config.json").read_text())
    assert trained["method"] == config["method"] == "fitted-q" and config["settings"]["pace_lag"] == 6
    assert config["settings"]["plans"] == 2
    assert config["population"] == {"families": [f.name for f in zoo_for("bandit")], "surrogate_share": 0.9,
                                    "other_surrogates": [],
                                    "training_surrogate_part": None}
    plain = load_policy(folder / "plain.pt")
    assert plain.params.pace_lag == 6 and isinstance(plain.net, PlanMean) and len(plain.net.plans) == 2

    trained, printed = run(["train-adversary", "--game", "bandit", "--surrogate", loop["surrogate"],
                            "--objective", "max", "--population", "surrogate", "--pace-lag", "3",
                            "--out", folder / "own.pt", *TINY_PLAN])
    assert "the measured defaults --method fitted-q --plans 2\n" in printed  # the share goes with the zoo
    config = json.loads((folder / "own" / "config.json").read_text())
    assert config["method"] == "fitted-q" and config["settings"]["pace_lag"] == 3
    assert config["population"] is None


def test_evaluate_adversary_against_the_zoo_prints_one_line_per_family(loop):
    summary, printed = run(["evaluate-adversary", "--adversary", loop["adversary"], "--against", "zoo",
                            "--episodes", "32", "--optimum-participants", "2"])
    names = [f.name for f in zoo_for("bandit")]
    assert [row["family"] for row in summary["families"]] == names
    table = printed.splitlines()
    assert table[0].split() == ["family", "random", "adversary", "optimum", "fraction"]
    assert [line.split()[0] for line in table[1:1 + len(names)]] == names
    for row in summary["families"]:
        assert 0 <= row["random"]["mean"] <= 1 and 0 <= row["adversary"]["mean"] <= 1
        if row["optimum"] is not None:  # a family with a tabular form
            gain = row["optimum"]["mean"] - row["random"]["mean"]
            assert row["fraction"] == pytest.approx((row["adversary"]["mean"] - row["random"]["mean"]) / gain)
    assert {row["family"] for row in summary["families"] if row["optimum"] is None} == {
        "beta_bernoulli_softmax", "thompson"}
    skipped, _ = run(["evaluate-adversary", "--adversary", loop["adversary"], "--against", "zoo",
                      "--episodes", "32", "--optimum-participants", "0"])
    assert all(row["optimum"] is None and row["fraction"] is None for row in skipped["families"])


def test_evaluate_adversary_against_the_surrogate(loop):
    summary, _ = run(["evaluate-adversary", "--adversary", loop["adversary"],
                      "--against", f"surrogate:{loop['surrogate']}", "--episodes", "64"])
    assert {"adversary_return", "participant_return", "target_rate"} <= set(summary)
    assert summary["episodes"] == 64 and summary["game"] == "bandit"
    assert summary["target_rate"] == pytest.approx(summary["adversary_return"] / BANDIT["trials"])
    again, _ = run(["evaluate-adversary", "--adversary", loop["adversary"],
                    "--against", f"surrogate:{loop['surrogate']}", "--episodes", "64"])
    assert again == summary  # seeded


def test_evaluate_adversary_counterbalances_the_bandit_surrogate_unless_told_not_to(loop):
    both, _ = run(["evaluate-adversary", "--adversary", loop["adversary"],
                   "--against", f"surrogate:{loop['surrogate']}", "--episodes", "64"])
    itself, _ = run(["evaluate-adversary", "--adversary", loop["adversary"],
                     "--against", f"surrogate:{loop['surrogate']}", "--episodes", "64", "--no-counterbalance"])
    assert both["counterbalanced"] is True and itself["counterbalanced"] is False
    assert both["participant_return"] != itself["participant_return"]


def test_evaluate_adversary_classic_against_a_learner():
    summary, _ = run(["evaluate-adversary", "--adversary", "random_schedule", "--against", "learner:q_learning",
                      "--game", "bandit", "--game-params", BANDIT_JSON, "--episodes", "32", "--seed", "3"])
    assert {"adversary_return", "participant_return", "target_rate"} <= set(summary)
    assert summary["episodes"] == 32 and 0 <= summary["target_rate"] <= 1


def test_evaluate_adversary_on_the_ipd_has_no_target_rate():
    summary, _ = run(["evaluate-adversary", "--adversary", "tit_for_tat", "--against", "learner:q_learning",
                      "--game", "ipd", "--game-params", '{"rounds": 4}', "--episodes", "8"])
    assert {"adversary_return", "participant_return", "earnings_gap"} <= set(summary)
    assert "target_rate" not in summary


# --- bad arguments: exit status 2 and a message naming the problem ---------------------------------


def _garbage(folder: Path) -> Path:
    path = folder / "garbage.pt"
    path.write_bytes(b"\x80\x02 not a torch file at all" * 4)
    return path


def _policy_file(folder: Path) -> Path:
    return save_policy(folder / "policy.pt", GRUPolicy(make_game("bandit", BANDIT), {"hidden_size": 3}))


def _trust_surrogate(folder: Path) -> Path:
    game = make_game("trust", {"rounds": 3})
    return save_surrogate(folder / "trust.pt", SurrogateNet(game, 2), game)


def _malformed_data(folder: Path) -> Path:
    lines = (folder / "data.csv").read_text().splitlines()
    header = lines[0].split(",")
    column = header.index("participant_action_index")
    cells = lines[4].split(",")
    cells[column] = "x"
    lines[4] = ",".join(cells)
    path = folder / "malformed.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


BAD_ARGUMENTS = [
    ("fit-surrogate", lambda f: ["--game", "bandit", "--data", f / "missing.csv", "--out", f / "x.pt", *TINY_FIT],
     "missing.csv: file not found"),
    ("fit-surrogate", lambda f: ["--game", "bandit", "--game-params", BANDIT_JSON, "--data", _malformed_data(f),
                                 "--out", f / "x.pt", *TINY_FIT],
     "malformed.csv, line 5, column 'participant_action_index': expected an action index in 0..1"),
    ("fit-surrogate", lambda f: ["--game", "bandit", "--data", simulate(f / "ipd.csv", "ipd", {"rounds": 3}, 3),
                                 "--out", f / "x.pt", *TINY_FIT],
     "ipd.csv, line 2, column 'game': expected 'bandit' (the game passed in), got 'ipd'"),
    ("fit-surrogate", lambda f: ["--game", "bandit", "--game-params", BANDIT_JSON, "--data", f / "data.csv",
                                 "--out", f / "x.pt", "--folds", "17", "--threads", "1"],
     "data.csv: 16 participants, too few for 17-fold CV"),
    ("fit-surrogate", lambda f: ["--game", "chess", "--data", f / "data.csv", "--out", f / "x.pt", *TINY_FIT],
     "unknown game 'chess'"),
    ("fit-surrogate", lambda f: ["--game", "bandit", "--data", f / "data.csv", "--out", f / "x.pt",
                                 "--hidden-sizes", "2,2", "--threads", "1"],
     "expected distinct positive whole numbers, got '2,2'"),
    ("fit-surrogate", lambda f: ["--game", "bandit", "--data", f / "data.csv", "--out", f / "x.pt",
                                 "--hidden-sizes", "2,0"],
     "expected distinct positive whole numbers, got '2,0'"),
    ("evaluate-surrogate", lambda f: ["--model", _garbage(f), "--data", f / "data.csv"],
     "garbage.pt is not a surrogate checkpoint"),
    ("evaluate-surrogate", lambda f: ["--model", _policy_file(f), "--data", f / "data.csv"],
     "policy.pt is not a surrogate checkpoint (format 1)"),
    ("evaluate-surrogate", lambda f: ["--model", f / "S.pt", "--data", f / "missing.csv"],
     "missing.csv: file not found"),
    ("train-adversary", lambda f: ["--game", "ipd", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--out", f / "x.pt", *TINY_TRAIN],
     "--game ipd but"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "fair",
                                   "--out", f / "x.pt", *TINY_TRAIN],
     "Choice-engineering bandit has no fair objective; it has max, adalign"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", _policy_file(f), "--objective", "max",
                                   "--out", f / "x.pt", *TINY_TRAIN],
     "policy.pt is not a surrogate checkpoint"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "missing.pt", "--objective", "max",
                                   "--out", f / "x.pt", *TINY_TRAIN],
     "missing.pt: no such file"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--beta", "2", "--out", f / "x.pt", *TINY_TRAIN],
     "--beta only applies to --objective adalign"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "adalign",
                                   "--method", "fitted-q", "--out", f / "x.pt"],
     "--method fitted-q trains the max objective only, not adalign"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--out", f / "x.pt", *TINY_TRAIN, "--method", "fitted-q"],
     "--iterations applies to --method ppo, not fitted-q"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--iterations", "2", "--out", f / "x.pt"],
     "--iterations applies to --method ppo, not fitted-q (the bandit max default; give --method to "
     "train another way)"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--passes", "2", "--out", f / "x.pt", *TINY_TRAIN],
     "--passes applies to --method fitted-q, not ppo"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--policy-lr", "fast", "--out", f / "x.pt", *TINY_TRAIN],
     "argument --policy-lr: expected a number, got 'fast'"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--no-proximal", "--out", f / "x.pt", *TINY_TRAIN],
     "--proximal only applies to --objective adalign"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--pacing-weight", "-1", "--out", f / "x.pt", *TINY_TRAIN],
     "pacing_weight must be at least 0, got -1.0"),
    ("train-adversary", lambda f: ["--game", "trust", "--surrogate", _trust_surrogate(f), "--objective", "max",
                                   "--method", "fitted-q", "--out", f / "x.pt"],
     "--method fitted-q needs a game where the adversary moves first (bandit, gonogo), not trust"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--population", "zoo", "--hold-out", "nobody", "--out", f / "x.pt", *TINY_TRAIN],
     "no family nobody in the bandit zoo; expected one of q_learning"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--hold-out", "wsls", "--out", f / "x.pt", *TINY_TRAIN],
     "--hold-out, --surrogate-share, --other-surrogate and --training-surrogate-part apply to --population zoo"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--other-surrogate", f / "S.pt", "--out", f / "x.pt", *TINY_TRAIN],
     "--hold-out, --surrogate-share, --other-surrogate and --training-surrogate-part apply to --population zoo"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--training-surrogate-part", "0.5", "--out", f / "x.pt", *TINY_TRAIN],
     "--training-surrogate-part apply to --population zoo"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--population", "zoo", "--training-surrogate-part", "0.5",
                                   "--out", f / "x.pt", *TINY_TRAIN],
     "training_surrogate_part needs other surrogates to share with"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--population", "zoo", "--other-surrogate", f / "S.pt",
                                   "--training-surrogate-part", "1", "--out", f / "x.pt", *TINY_TRAIN],
     "training_surrogate_part must lie in (0, 1), got 1"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--population", "zoo", "--other-surrogate", f / "missing.pt",
                                   "--out", f / "x.pt", *TINY_TRAIN],
     "other surrogate: "),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--population", "zoo", "--other-surrogate", _trust_surrogate(f),
                                   "--out", f / "x.pt", *TINY_TRAIN],
     "trust.pt was fitted for Multi-round trust game"),
    ("train-adversary", lambda f: ["--game", "bandit", "--surrogate", f / "S.pt", "--objective", "max",
                                   "--population", "zoo", "--surrogate-share", "1", "--out", f / "x.pt", *TINY_TRAIN],
     "surrogate_share must lie in [0, 1), got 1"),
    ("evaluate-adversary", lambda f: ["--adversary", "tit_for_tat", "--game", "ipd", "--against", "zoo"],
     "no learner zoo for 'ipd'; games with one: bandit, gonogo"),
    ("evaluate-adversary", lambda f: ["--adversary", "random_schedule", "--game", "bandit", "--against", "zoo",
                                      "--learner-params", '{"beta": 3}'],
     "--learner-params applies to --against learner:NAME"),
    ("evaluate-adversary", lambda f: ["--adversary", f / "A.pt", "--against", f"model:{f / 'S.pt'}"],
     "--against must be surrogate:PATH, learner:NAME or zoo, got 'model:"),
    ("evaluate-adversary", lambda f: ["--adversary", f / "A.pt", "--against", "surrogate:"],
     "--against must be surrogate:PATH, learner:NAME or zoo"),
    ("evaluate-adversary", lambda f: ["--adversary", f / "A.pt", "--against", f"surrogate:{_garbage(f)}"],
     "garbage.pt is not a surrogate checkpoint"),
    ("evaluate-adversary", lambda f: ["--adversary", f / "A.pt", "--against", f"surrogate:{_policy_file(f)}"],
     "policy.pt is not a surrogate checkpoint"),
    ("evaluate-adversary", lambda f: ["--adversary", _garbage(f), "--against", "learner:q_learning"],
     "garbage.pt is not a policy checkpoint"),
    ("evaluate-adversary", lambda f: ["--adversary", f / "S.pt", "--against", "learner:q_learning"],
     "unknown policy kind 'surrogate'"),
    ("evaluate-adversary", lambda f: ["--adversary", f / "missing.pt", "--against", "learner:q_learning"],
     "missing.pt"),
    ("evaluate-adversary", lambda f: ["--adversary", f / "A.pt", "--against", "learner:q_learning",
                                      "--game", "ipd"],
     "--adversary is for bandit"),
    ("evaluate-adversary", lambda f: ["--adversary", "random_schedule", "--against", "learner:q_learning",
                                      "--game", "bandit", "--no-counterbalance"],
     "--no-counterbalance applies to --against surrogate:PATH"),
    ("evaluate-adversary", lambda f: ["--adversary", "random_schedule", "--against", "learner:q_learning"],
     "name the game with --game"),
    ("evaluate-adversary", lambda f: ["--adversary", "random_schedule", "--against", "learner:nobody",
                                      "--game", "bandit"],
     "unknown learner 'nobody'"),
]


@pytest.mark.parametrize("command, make_arguments, message", BAD_ARGUMENTS,
                         ids=[f"{c}-{m[:30]}" for c, _, m in BAD_ARGUMENTS])
def test_bad_arguments_exit_with_status_2_and_say_why(loop, capsys, command, make_arguments, message):
    folder = loop["folder"] / "bad"
    folder.mkdir(exist_ok=True)
    (folder / "data.csv").write_bytes(loop["data"].read_bytes())
    (folder / "S.pt").write_bytes(loop["surrogate"].read_bytes())
    (folder / "A.pt").write_bytes(loop["adversary"].read_bytes())
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([command, *[str(a) for a in make_arguments(folder)]])
    assert exit_info.value.code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith(f"python -m shaping_core {command}: error: ")
    assert message in last_line, last_line
    assert not (folder / "x.pt").exists() and not (folder / "x").exists()
