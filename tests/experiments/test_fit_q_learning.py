"""experiments/fit_q_learning.py: the likelihood is the learner's own, the pooled fit recovers the
parameters that generated the data, and the script's outputs and argument errors."""

import json

import pandas as pd
import pytest
import torch

from shaping_core.data import sequences_from_frame
from shaping_core.data.schema import write_trials
from shaping_core.games import make_game
from shaping_core.learners import make_learner
from shaping_core.learners.datasets import simulate_trials
from shaping_core.policies import make_policy

from helpers import load_experiment

pytestmark = pytest.mark.usefixtures("one_thread")
TRUE = {"alpha": 0.3, "beta": 8.0, "kappa": 0.3}


@pytest.fixture(scope="module")
def fit_q():
    return load_experiment("fit_q_learning")


@pytest.fixture(scope="module")
def simulated():
    game = make_game("bandit")
    frame = simulate_trials(game, make_learner("q_learning", game, TRUE),
                            make_policy("random_schedule", game), 100, seed=3)
    return frame, sequences_from_frame(frame, game)


def test_the_likelihood_is_the_learners_choice_probability(fit_q, simulated):
    """Summed -log P of each person's choices equals replaying QLearner.act by hand on one
    person's trials."""
    _, sequences = simulated
    one = sequences.subset([0])
    params = {k: torch.tensor([v]) for k, v in TRUE.items()}
    nll = fit_q.choice_nll(one, params)

    q, previous, expected = torch.zeros(2), -1, 0.0
    for action, reward in zip(one.participant_actions[0].tolist(), one.participant_rewards[0].tolist()):
        logits = TRUE["beta"] * q + TRUE["kappa"] * torch.nn.functional.one_hot(
            torch.tensor(previous).clamp_min(0), 2) * (previous >= 0)
        expected -= float(torch.log_softmax(logits, 0)[action])
        q[action] += TRUE["alpha"] * (reward - q[action])
        previous = action
    assert nll.shape == (1,)
    assert float(nll[0]) == pytest.approx(expected, rel=1e-4)


def test_the_pooled_fit_recovers_the_generating_parameters(fit_q, simulated):
    _, sequences = simulated
    params, nll = fit_q.fit(sequences, pooled=True, restarts=1, steps=100, lr=0.1, seed=0)
    assert float(params["alpha"][0]) == pytest.approx(TRUE["alpha"], abs=0.08)
    assert float(params["beta"][0]) == pytest.approx(TRUE["beta"], abs=1.5)
    assert float(params["kappa"][0]) == pytest.approx(TRUE["kappa"], abs=0.25)
    # The fit is at least as likely as the truth (it maximises the same likelihood).
    truth = fit_q.choice_nll(sequences, {k: torch.full((sequences.n_sequences,), v)
                                         for k, v in TRUE.items()})
    assert float(nll.sum()) <= float(truth.sum()) + 1.0


def test_the_script_fits_a_trial_file_and_writes_its_report(fit_q, simulated, tmp_path, capsys):
    frame, _ = simulated
    data = tmp_path / "trials.parquet"
    write_trials(frame[frame["participant"].isin(frame["participant"].unique()[:40])], data)
    out = tmp_path / "fit"
    metrics = fit_q.main(["--data", str(data), "--out", str(out), "--restarts", "1", "--steps", "40"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == metrics
    assert {p.name for p in out.iterdir()} == {"config.json", "metrics.json", "people.csv", "q_fit.png"}
    people = pd.read_csv(out / "people.csv")
    assert len(people) == metrics["people"] == 40 and metrics["choices"] == 40 * 100
    assert people["alpha"].between(0, 1).all() and people["beta"].between(0, 100).all()
    # One parameter set per person fits the same data at least as well as one set for all.
    assert metrics["per_person"]["nll_per_choice"] <= metrics["pooled"]["nll_per_choice"] + 1e-3
    assert metrics["pooled"]["nll_per_choice"] < metrics["constant_nll_per_choice"]


@pytest.mark.parametrize("argv, message", [
    (["--restarts", "0"], "--restarts: must be at least 1"),
    (["--lr", "0"], "--lr must be positive"),
    (["--data", "nowhere.csv"], "nowhere.csv"),
])
def test_bad_arguments_are_refused_with_a_message(fit_q, tmp_path, capsys, argv, message):
    base = {"--data": str(tmp_path / "missing.csv"), "--out": str(tmp_path / "out")}
    for flag, value in zip(argv[::2], argv[1::2]):
        base[flag] = value
    with pytest.raises(SystemExit) as exit_info:
        fit_q.main([item for pair in base.items() for item in pair])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
