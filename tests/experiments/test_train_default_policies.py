"""experiments/train_default_policies.py: the commands it runs for a game's human data exist and
take the arguments it passes, and a missing data file is refused before anything is trained."""

import pytest

from helpers import load_experiment
from shaping_core.__main__ import build_parser
from shaping_core.adversary_training import with_game_defaults
from shaping_core.games import make_game


@pytest.fixture(scope="module")
def script():
    return load_experiment("train_default_policies")


@pytest.mark.parametrize("game", ["bandit", "gonogo", "ipd"])
def test_the_commands_for_human_data_parse(script, game):
    data_format, fit_arguments = script.PEOPLE[game]
    fit = build_parser().parse_args(["fit-surrogate", "--game", game, "--data", "d.csv", "--data-format",
                                     data_format, *fit_arguments, "--out", "s.pt"])
    assert fit.data_format == data_format


@pytest.mark.parametrize("game", ["bandit", "gonogo", "ipd"])
def test_every_objective_trains_with_the_games_measured_defaults(script, game):
    """The plain train-adversary the script runs resolves to the documented method and population."""
    made = make_game(game)
    for objective in made.spec.objectives:
        given = build_parser().parse_args(["train-adversary", "--game", game, "--surrogate", "s.pt",
                                           "--objective", objective, "--out", "a.pt"])
        options, _ = with_game_defaults(made, objective, vars(given))
        robust = game == "bandit"
        assert (options["population"] or "surrogate") == ("zoo" if robust else "surrogate")
        planned = objective == "max" and game in ("bandit", "gonogo")
        assert (options["method"] or "ppo") == ("fitted-q" if planned else "ppo")
        if game == "bandit" and objective == "max":  # docs/loop.md, "The pace rule settles most of it"
            assert (options["surrogate_share"], options["pace_lag"], options["plans"]) == (0.9, 6, 2)
        if game == "gonogo" and objective == "max":  # docs/loop.md, "The spacing rule"
            assert options["min_gap"] == 6


def test_a_missing_data_file_is_refused_with_its_name(script, tmp_path, capsys):
    with pytest.raises(SystemExit):
        script.main(["--out", str(tmp_path), "--games", "gonogo", "--gonogo-data", str(tmp_path / "none.csv.gz")])
    error = capsys.readouterr().err
    assert "--gonogo-data" in error and "none.csv.gz: file not found" in error
    assert not (tmp_path / "gonogo").exists()
