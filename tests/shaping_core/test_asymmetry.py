"""shaping_core/asymmetry.py: cells reproducible from their seed, a sweep that resumes, and the
measures (who gives what, build-then-betray) on adversaries whose answer is known."""

import json
import math

import pytest
import torch

from shaping_core import asymmetry
from shaping_core.asymmetry import Cell, SweepSettings, cells_of, measure, people_for, run_cell, run_sweep
from shaping_core.games import make_game
from shaping_core.games.ipd import memory_one, zero_determinant_fit
from shaping_core.learners import make_learner
from shaping_core.policies import make_policy
from shaping_core.policies.base import Policy
from shaping_core.simulation import play_episodes

TINY = dict(game="trust", rounds=4, fidelities=(0.0, 1.0), betas=(0.0, 2.0), seeds=(0,),
            iterations=2, batch_size=16, eval_episodes=32, simulated_people=40,
            surrogate_steps=3, surrogate_hidden=2, adversary_hidden=4)


class GenerousThenGreedy(Policy):
    """Returns everything in the first half of the game and nothing after: a treacherous turn."""

    name, label, games = "generous_then_greedy", "Generous, then greedy", ("trust", "ipd")

    def act(self, observation, state):
        late = observation.trial >= self.game.max_trials // 2
        probs = torch.zeros(observation.batch_size, self.n_actions)
        generous = 0 if self.game.spec.name == "ipd" else self.n_actions - 1
        greedy = 1 if self.game.spec.name == "ipd" else 0
        probs[torch.arange(observation.batch_size), torch.where(late, greedy, generous)] = 1.0
        return probs, state


def test_the_games_say_how_much_each_side_gave():
    ipd = make_game("ipd")
    person, adversary = ipd.cooperation(torch.tensor([0, 1, -1]), torch.tensor([1, 0, -1]))
    assert person.tolist() == [1.0, 0.0, 0.0] and adversary.tolist() == [0.0, 1.0, 0.0]
    trust = make_game("trust", {"endowment": 10, "return_fractions": [0.0, 0.25, 0.5]})
    person, adversary = trust.cooperation(torch.tensor([10, 5, 0]), torch.tensor([2, 1, 0]))
    assert person.tolist() == [1.0, 0.5, 0.0] and adversary.tolist() == [1.0, 0.5, 0.0]
    assert make_game("bandit").cooperation(torch.zeros(1), torch.zeros(1)) is None


@pytest.mark.parametrize("game_name", ["trust", "ipd"])
def test_build_then_betray_is_positive_for_a_treacherous_adversary_and_zero_for_a_steady_one(game_name):
    game = make_game(game_name, {"rounds": 9})
    person = make_learner("investor" if game_name == "trust" else "tit_for_tat_like", game)
    treacherous = measure(game, GenerousThenGreedy(game), person, 64, seed=0)
    assert treacherous["adversary_gives_by_third"][0] == 1.0
    assert treacherous["adversary_gives_by_third"][-1] == 0.0
    assert treacherous["build_then_betray"] == 1.0
    steady = make_policy("fixed_fraction", game) if game_name == "trust" else make_policy("always_defect", game)
    assert measure(game, steady, person, 64, seed=0)["build_then_betray"] == 0.0


def test_a_cell_is_reproducible_from_its_seed_and_another_seed_gives_another_cell():
    settings = SweepSettings(**TINY)
    people = people_for(settings)
    cell = Cell(fidelity=1.0, objective="adalign", beta=2.0, seed=3)
    first, again = run_cell(settings, people, cell), run_cell(settings, people, cell)
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    other = run_cell(settings, people, Cell(fidelity=1.0, objective="adalign", beta=2.0, seed=4))
    assert other["surrogate_nll"] != first["surrogate_nll"]
    assert set(first["against"]) == {"investor", "quick investor", "own surrogate"}


def test_a_sweep_runs_only_the_cells_not_yet_written(tmp_path, monkeypatch):
    settings = SweepSettings(**TINY)
    cells = cells_of(settings)
    assert len(cells) == 2 * 3  # two fidelities x (beta 0, beta 2, FAIR)
    calls = []
    real = asymmetry.run_cell
    monkeypatch.setattr(asymmetry, "run_cell", lambda *args: calls.append(args[2]) or real(*args))
    rows = run_sweep(settings, tmp_path, cells[:2], jobs=1, log=lambda line: None)
    assert len(calls) == 2 and [row["key"] for row in rows] == [c.key for c in cells[:2]]
    rows = run_sweep(settings, tmp_path, cells[:3], jobs=1, log=lambda line: None)
    assert calls[2:] == [cells[2]]  # the two written cells were read back, not rerun
    assert len(rows) == 3 and not list((tmp_path / "cells").glob(".*.tmp"))


def test_bad_sweep_settings_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="fidelities must be fractions"):
        SweepSettings(**{**TINY, "fidelities": (1.5,)})
    with pytest.raises(ValueError, match="betas must be at least 0"):
        SweepSettings(**{**TINY, "betas": (-1.0,)})
    with pytest.raises(ValueError, match="needs data"):
        SweepSettings(**{**TINY, "game": "ipd"})
    with pytest.raises(ValueError, match="game must be"):
        SweepSettings(**{**TINY, "game": "bandit"})


def test_the_memory_one_strategy_of_tit_for_tat_is_read_from_its_play():
    game = make_game("ipd", {"rounds": 30})
    played = play_episodes(game, make_learner("random", game), make_policy("tit_for_tat", game), 64,
                           generator=torch.Generator().manual_seed(0))
    strategy = memory_one(played.adversary_actions, played.participant_actions, played.active)
    assert strategy == {"start": 1.0, "CC": 1.0, "CD": 0.0, "DC": 1.0, "DD": 0.0}


@pytest.mark.parametrize("strategy, slope, intercept, exact", [
    ((11 / 13, 1 / 2, 7 / 26, 0.0), 3.0, -2.0, True),  # Press & Dyson's extortioner, chi = 3
    ((1.0, 0.0, 1.0, 0.0), 1.0, 0.0, True),  # tit-for-tat: equal points
    ((1.0, 0.0, 0.0, 1.0), None, None, False),  # win-stay, lose-shift is not zero-determinant
])
def test_the_zero_determinant_fit_finds_extortion_and_fairness(strategy, slope, intercept, exact):
    fit = zero_determinant_fit(dict(zip(("CC", "CD", "DC", "DD"), strategy)), make_game("ipd").params)
    if exact:
        assert fit["slope"] == pytest.approx(slope) and fit["intercept"] == pytest.approx(intercept, abs=1e-9)
        if slope != 1.0:  # the extortioner's line meets the diagonal at P = 1
            assert fit["baseline"] == pytest.approx(1.0)
        assert fit["residual"] == pytest.approx(0, abs=1e-9)
    else:
        assert fit["residual"] > 0.3
    assert math.isnan(zero_determinant_fit({"CC": 1.0, "CD": float("nan"), "DC": 0.0, "DD": 0.0},
                                           make_game("ipd").params)["slope"])
