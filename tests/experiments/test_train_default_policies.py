"""experiments/train_default_policies.py: the commands it runs for a game's human data exist and
take the arguments it passes, and a missing data file is refused before anything is trained."""

import pytest

from helpers import load_experiment
from shaping_core.__main__ import build_parser
from shaping_core.games import make_game


@pytest.fixture(scope="module")
def script():
    return load_experiment("train_default_policies")


@pytest.mark.parametrize("game", ["bandit", "gonogo", "ipd"])
def test_the_commands_for_human_data_parse(script, game):
    data_format, fit_arguments, train_arguments = script.PEOPLE[game]
    parser = build_parser()
    fit = parser.parse_args(["fit-surrogate", "--game", game, "--data", "d.csv", "--data-format", data_format,
                             *fit_arguments, "--out", "s.pt"])
    assert fit.data_format == data_format
    assert set(train_arguments) == {objective.value for objective in make_game(game).spec.objectives}
    for objective, arguments in train_arguments.items():
        train = parser.parse_args(["train-adversary", "--game", game, "--surrogate", "s.pt", "--objective",
                                   objective, *arguments, "--out", "a.pt"])
        assert train.population == ("zoo" if game == "bandit" else "surrogate")
        assert train.method == ("fitted-q" if objective == "max" and game in ("bandit", "gonogo") else "ppo")
    if game == "bandit":  # docs/loop.md, "The pace rule settles most of it"
        train = parser.parse_args(["train-adversary", "--game", game, "--surrogate", "s.pt", "--objective",
                                   "max", *train_arguments["max"], "--out", "a.pt"])
        assert (train.surrogate_share, train.pace_lag) == (0.9, 6)


def test_a_missing_data_file_is_refused_with_its_name(script, tmp_path, capsys):
    with pytest.raises(SystemExit):
        script.main(["--out", str(tmp_path), "--games", "gonogo", "--gonogo-data", str(tmp_path / "none.csv.gz")])
    error = capsys.readouterr().err
    assert "--gonogo-data" in error and "none.csv.gz: file not found" in error
    assert not (tmp_path / "gonogo").exists()
