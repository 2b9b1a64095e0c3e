"""Synthetic datasets: shaping_core/learners/datasets.py and `python -m shaping_core simulate`."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import torch

from shaping_core.__main__ import main
from shaping_core.data import sequences_from_frame
from shaping_core.data.schema import TRIAL_COLUMNS, write_trials
from shaping_core.games import make_game
from shaping_core.learners import make_learner
from shaping_core.learners.datasets import simulate_trials
from shaping_core.policies import make_policy
from shaping_core.simulation import play_episodes

DOCS = Path(__file__).resolve().parents[2] / "docs" / "data.md"



def documented_columns() -> list[str]:
    """The column names of the export table in docs/data.md, in order."""
    lines = DOCS.read_text().splitlines()
    start = lines.index("| column | type | meaning |")
    columns = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        columns.append(re.match(r"\|\s*`([a-z_]+)`", line).group(1))
    return columns


def setup(game_name="ipd", game_params=None, learner="q_learning", learner_params=None,
          adversary="tit_for_tat", adversary_params=None):
    game = make_game(game_name, game_params)
    return (game, make_learner(learner, game, learner_params),
            make_policy(adversary, game, adversary_params))


IPD_RANDOM_LENGTH = {"continuation_probability": 0.8, "max_rounds": 15}


def test_columns_are_the_documented_export_columns():
    game, learner, adversary = setup(game_params={"rounds": 3})
    frame = simulate_trials(game, learner, adversary, 2, seed=0)
    assert documented_columns() == list(TRIAL_COLUMNS)
    assert list(frame.columns) == documented_columns()


def test_types_and_values_follow_the_schema():
    game, learner, adversary = setup("trust", {"rounds": 4}, "investor", None, "fixed_fraction",
                                     {"fraction": 0.5})
    frame = simulate_trials(game, learner, adversary, 3, seed=1, study="s1", condition="c1")
    assert len(frame) == 12
    for column in ("trial", "participant_action_index", "adversary_action_index", "episode_length"):
        assert frame[column].dtype == "int64", column
    for column in ("participant_reward", "adversary_reward", "reaction_time_ms"):
        assert frame[column].dtype == "float64", column
    assert frame["reaction_time_ms"].isna().all()
    assert frame["presented_at"].isna().all() and str(frame["presented_at"].dtype).endswith("UTC]")
    assert frame["participant"].tolist() == ["sim0000"] * 4 + ["sim0001"] * 4 + ["sim0002"] * 4
    assert frame["trial"].tolist() == [0, 1, 2, 3] * 3
    assert set(frame["study"]) == {"s1"} and set(frame["condition"]) == {"c1"}
    assert set(frame["game"]) == {"trust"} and set(frame["adversary"]) == {"fixed_fraction"}
    assert set(frame["adversary_params"]) == {'{"fraction": 0.5}'}
    assert set(frame["adversary_action"]) == {"50%"}
    assert (frame["participant_action"] == frame["participant_action_index"].astype(str)).all()
    assert set(frame["episode_length"]) == {4} and set(frame["participant_status"]) == {"completed"}
    assert json.loads(frame["screen_order"].iloc[0]) == list(range(21))
    # The rewards are the game's: endowment - x + 0.5 * 3 * x.
    x = frame["participant_action_index"]
    assert (frame["participant_reward"] == 20 - x + 1.5 * x).all()


def test_only_played_trials_and_each_episode_length():
    game, learner, adversary = setup(game_params=IPD_RANDOM_LENGTH)
    frame = simulate_trials(game, learner, adversary, 12, seed=2)
    sizes = frame.groupby("participant").size()
    lengths = frame.groupby("participant")["episode_length"].agg(["min", "max"])
    assert (lengths["min"] == sizes).all() and (lengths["max"] == sizes).all()
    assert sizes.nunique() > 1


def test_the_frame_converts_back_into_the_same_actions():
    game, learner, adversary = setup(game_params=IPD_RANDOM_LENGTH,
                                     learner_params={"alpha": [0.1, 0.9]})
    frame = simulate_trials(game, learner, adversary, 10, seed=3)
    episodes = play_episodes(game, learner, adversary, 10, generator=torch.Generator().manual_seed(3))
    sequences = sequences_from_frame(frame, game)
    played = episodes.active[:, :sequences.participant_actions.shape[1]]
    assert sequences.ids == [f"sim{i:04d}" for i in range(10)]
    assert torch.equal(sequences.mask, played)
    assert torch.equal(sequences.participant_actions[played], episodes.participant_actions[played])
    assert torch.equal(sequences.adversary_actions[played], episodes.adversary_actions[played])
    assert torch.equal(sequences.participant_rewards[played], episodes.participant_rewards[played])


def test_the_same_seed_gives_the_same_table():
    game, learner, adversary = setup("bandit", {"trials": 20, "rewards_per_option": 5},
                                     adversary="random_schedule")
    first = simulate_trials(game, learner, adversary, 4, seed=9)
    pd.testing.assert_frame_equal(first, simulate_trials(game, learner, adversary, 4, seed=9))
    other = simulate_trials(game, learner, adversary, 4, seed=10)
    assert not first["participant_action_index"].equals(other["participant_action_index"])


def test_a_learner_for_another_game_is_refused():
    game, learner, adversary = setup(game_params={"rounds": 3})
    with pytest.raises(ValueError, match="learner was built for another game"):
        simulate_trials(make_game("ipd", {"rounds": 4}), learner, adversary, 2, seed=0)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_written_files_read_back_as_the_table(tmp_path, suffix):
    game, learner, adversary = setup("gonogo", {"trials": 12, "nogo_trials": 3},
                                     adversary="random_schedule")
    frame = simulate_trials(game, learner, adversary, 2, seed=0)
    path = tmp_path / f"trials{suffix}"
    write_trials(frame, path)
    back = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    assert list(back.columns) == list(TRIAL_COLUMNS)
    for column in ("participant", "participant_action", "adversary_action", "trial",
                   "participant_action_index", "participant_reward", "episode_length",
                   "screen_order"):
        assert back[column].tolist() == frame[column].tolist(), column
    assert back["adversary_probs"].isna().all()
    if suffix == ".parquet":  # the documented string type, not Parquet's null type
        import pyarrow as pa
        import pyarrow.parquet as pq
        assert pq.read_schema(path).field("adversary_probs").type == pa.string()


# --- the command ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_simulate_command_writes_the_table_and_its_config(tmp_path, capsys, suffix):
    out = tmp_path / "sub" / f"sim{suffix}"
    code = main(["simulate", "--game", "bandit",
                 "--game-params", '{"trials": 20, "rewards_per_option": 5}',
                 "--learner", "q_learning", "--learner-params", '{"alpha": [0.2, 0.4]}',
                 "--adversary", "random_schedule", "--participants", "3", "--seed", "4",
                 "--out", str(out)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert summary["rows"] == len(frame) == 60 and summary["participants"] == 3
    assert summary["path"] == str(out)
    points = frame.groupby("participant")["participant_reward"].sum().mean()
    assert summary["mean_participant_points"] == pytest.approx(points)
    target = frame.groupby("participant")["adversary_reward"].sum().mean()
    assert summary["mean_adversary_points"] == pytest.approx(target)
    config = json.loads(Path(f"{out}.json").read_text())
    assert config["seed"] == 4 and config["participants"] == 3
    assert config["game"] == {"name": "bandit", "params": {"trials": 20, "rewards_per_option": 5,
                                                           "target_option": 0}}
    assert config["learner"]["name"] == "q_learning"
    assert config["learner"]["params"]["alpha"] == [0.2, 0.4]
    assert config["learner"]["params"]["beta"] == 4.0
    assert config["adversary"] == {"name": "random_schedule", "params": {}}


BASE = ["simulate", "--game", "ipd", "--learner", "q_learning", "--adversary", "tit_for_tat",
        "--participants", "2", "--seed", "0"]


@pytest.mark.parametrize("change, message", [
    ({"--game": "chess"}, "unknown game 'chess'"),
    ({"--learner": "sarsa"}, "unknown learner 'sarsa'"),
    ({"--adversary": "random_schedule"}, "cannot play Iterated prisoner's dilemma"),
    ({"--learner": "investor"}, "Trust-learning investor cannot play"),
    ({"--learner-params": '{"alpha": 3}'}, "Q-learner: alpha must lie in [0, 1], got 3"),
    ({"--learner-params": "{alpha: 1}"}, "argument --learner-params: invalid JSON"),
    ({"--game-params": "[1]"}, "argument --game-params: expected a JSON object"),
    ({"--game-params": '{"rounds": 0}'}, "rounds must be at least 1"),
    ({"--adversary-params": '{"p": 1}'}, "unknown parameter(s) p"),
    ({"--participants": "0"}, "argument --participants: must be at least 1"),
    ({"--out": "trials.txt"}, "--out must end in .csv or .parquet"),
])
def test_simulate_command_rejects_bad_arguments(tmp_path, capsys, change, message):
    args = dict(zip(BASE[1::2], BASE[2::2]), **{"--out": str(tmp_path / "x.csv")})
    args.update(change)
    argv = ["simulate"] + [part for pair in args.items() for part in pair]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith("python -m shaping_core simulate: error: ")
    assert message in last_line
    assert not list(tmp_path.iterdir())  # nothing written
