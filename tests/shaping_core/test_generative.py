"""The generative check of a surrogate (shaping_core/surrogate/generative.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from shaping_core.data import TrialSequences, sequences_from_frame
from shaping_core.games import make_game
from shaping_core.games.gonogo import GO, NOGO
from shaping_core.learners import make_learner
from shaping_core.learners.datasets import simulate_trials
from shaping_core.policies import make_policy
from shaping_core.simulation import play_episodes
from shaping_core.surrogate.generative import ReplayedSchedule, behaviour, generative_check

ROOT = Path(__file__).resolve().parents[2]
HABIT = {"rate": 0.3, "impulse": -0.5, "weight": 4.0, "omission": 0.02}


def test_the_statistics_of_a_hand_written_sequence():
    stats = behaviour(torch.tensor([[0, 0, 1, 1, 1]]), torch.tensor([[1.0, 0, 1, 1, 0]]),
                      torch.tensor([[GO, GO, NOGO, GO, NOGO]]), torch.ones(1, 5, dtype=torch.bool), n_cues=2)
    assert stats["switch_rate"][0] == pytest.approx(1 / 4)
    assert stats["win_stay"][0] == pytest.approx(1.0)  # after trials 0, 2, 3 (paid): same action
    assert stats["lose_shift"][0] == pytest.approx(1.0)  # after trial 1 (unpaid): a switch
    assert stats["mean_run_length"][0] == pytest.approx(2.5)
    assert [stats[f"reward_rate_block_{k}"][0] for k in range(1, 6)] == [1, 0, 1, 1, 0]
    # The no-go of trial 2 is the first (counted as long ago); that of trial 4 came 2 trials later.
    assert stats["reward_rate_cue_1_gap_17+"][0] == 1.0
    assert stats["reward_rate_cue_1_gap_2-3"][0] == 0.0
    assert np.isnan(stats["reward_rate_cue_1_gap_1"][0])
    assert stats["reward_rate_cue_0_gap_1"][0] == 0.0  # trial 1; trial 3 came 2 after a go
    assert stats["reward_rate_cue_0_gap_2-3"][0] == 1.0
    no_cues = behaviour(torch.tensor([[0, 1]]), torch.tensor([[0.0, 0]]), torch.full((1, 2), -1),
                        torch.ones(1, 2, dtype=torch.bool), n_cues=None)
    assert not any(name.startswith("reward_rate_cue") for name in no_cues)


def test_a_replayed_schedule_plays_each_episodes_recorded_actions():
    game = make_game("gonogo", {"trials": 6, "nogo_trials": 2})
    schedule = torch.tensor([[NOGO, GO, GO, NOGO, GO, GO], [GO, GO, GO, GO, NOGO, NOGO]])
    played = play_episodes(game, make_learner("response_habit", game, HABIT), ReplayedSchedule(game, schedule), 2,
                           generator=torch.Generator().manual_seed(0))
    assert torch.equal(played.adversary_actions, schedule)
    with pytest.raises(ValueError, match="unknown"):
        ReplayedSchedule(game, torch.full((1, 6), -1))


def people(n: int, seed: int) -> TrialSequences:
    game = make_game("gonogo", {"trials": 60, "nogo_trials": 12})
    frame = simulate_trials(game, make_learner("response_habit", game, HABIT),
                            make_policy("random_schedule", game), n, seed=seed)
    return sequences_from_frame(frame, game)


def test_the_model_that_made_the_data_passes_and_another_fails():
    # One draw of people: its statistics share their sampling error (most follow the commission
    # rate), so they pass or fail together; at 95% a draw 2 standard errors out fails them all.
    data = people(150, seed=4)
    game = data.game
    baseline = make_policy("random_schedule", game)
    same = generative_check(make_learner("response_habit", game, HABIT), data, baseline=baseline,
                            replications=4, resamples=500, seed=0)
    other = generative_check(make_learner("base_rate", game, {}), data, baseline=baseline,
                             replications=4, resamples=500, seed=0)
    assert same.schedule == "replayed"
    shared = [row for row in same.rows if row.consistent is not None]
    assert sum(row.consistent for row in shared) >= 0.8 * len(shared)
    assert sum(row.consistent is False for row in other.rows) >= 3
    assert {row.statistic: row.consistent for row in same.rows}["reward_rate_cue_0_gap_9-16"] is None


def test_without_the_schedules_the_baseline_plays(tmp_path):
    game = make_game("bandit", {"trials": 20, "rewards_per_option": 5})
    frame = simulate_trials(game, make_learner("win_stay_lose_shift", game, {"epsilon": 0.1}),
                            make_policy("random_schedule", game), 40, seed=0)
    frame["adversary_action_index"] = -1  # as in the public bandit file
    data = sequences_from_frame(frame, game)
    result = generative_check(make_learner("win_stay_lose_shift", game, {"epsilon": 0.1}), data,
                              baseline=make_policy("random_schedule", game), replications=2, resamples=200)
    assert result.schedule == "random_schedule"
    assert not any(row.statistic.startswith("reward_rate_cue") for row in result.rows)
    assert {row.statistic: row.consistent for row in result.rows}["win_stay"]


def test_the_script_refuses_a_missing_surrogate_with_a_clear_message(tmp_path):
    completed = subprocess.run([sys.executable, str(ROOT / "experiments" / "generative_check.py"),
                                "--surrogate", str(tmp_path / "none.pt"), "--data", str(tmp_path / "d.csv"),
                                "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT)
    assert completed.returncode != 0
    assert "none.pt: no such file" in completed.stderr
