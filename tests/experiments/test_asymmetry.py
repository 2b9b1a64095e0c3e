"""experiments/ipd_surrogate.py and experiments/asymmetry.py end to end on a made-up file of
human IPD games (the real one is not in the repository), with tiny settings."""

import csv
import gzip
import json
import random

import pytest

from helpers import load_experiment

STUDIES = {  # study: (R, S, T, P, horizon, continuation probability, periods)
    "AA": (0.1, 0.0, 0.2, 0.05, "finite", None, 5),
    "BB": (0.3, 0.0, 0.35, 0.1, "indefinite", 0.75, None),
    "CC": (0.06, 0.0, 0.09, 0.03, "finite", None, 4),
}


def write_games(path, games_per_study=24, seed=0):
    """Games in the ipd-human-games format: players of tit-for-tat with noise, who cooperate
    more where mutual cooperation pays a larger share of the temptation."""
    rng = random.Random(seed)
    sequence = 0
    with gzip.open(path, "wt", newline="") as file:
        out = csv.writer(file)
        out.writerow(["sequence", "study", "treatment", "period", "action", "partner_action", "payoff",
                      "partner_payoff", "R", "S", "T", "P", "continuation_probability", "error_rate",
                      "stochastic_payoffs", "horizon"])
        for study, (r, s, t, p, horizon, d, periods) in STUDIES.items():
            for _ in range(games_per_study):
                sequence += 1
                length = periods or 1 + int(rng.expovariate(1 - d))
                mine, theirs = "C" if rng.random() < r / t else "D", None
                for period in range(1, length + 1):
                    last = period == length
                    theirs = "C" if rng.random() < 0.6 else "D"
                    payoff = {("C", "C"): r, ("C", "D"): s, ("D", "C"): t, ("D", "D"): p}[mine, theirs]
                    cont = (0.0 if last else 1.0) if horizon == "finite" else d
                    out.writerow([sequence, study, 1, period, mine, "" if last else theirs,
                                  "" if last else payoff, "" if last else payoff, r, s, t, p, cont, 0.0, 0,
                                  horizon])
                    mine = theirs if rng.random() < 0.9 else ("D" if theirs == "C" else "C")


@pytest.mark.slow
def test_the_surrogate_and_the_asymmetry_study_run_end_to_end(tmp_path, capsys):
    data = tmp_path / "games.csv.gz"
    write_games(data)
    load_experiment("ipd_surrogate").main(["--data", str(data), "--small", "--threads", "1",
                                           "--out", str(tmp_path / "surrogate")])
    metrics = json.loads((tmp_path / "surrogate" / "metrics.json").read_text())
    studies = metrics["leave_one_study_out"]["studies"]
    assert [row["group"] for row in studies] == ["AA", "BB", "CC"]
    assert all(row["memory_one"] < row["constant"] for row in studies)
    assert all(len(row["surrogate_by_seed"]) == 2 for row in studies)  # --small: two training seeds
    assert studies[0]["surrogate_by_seed"][0] != studies[0]["surrogate_by_seed"][1]
    assert set(metrics["first_round_p_cooperate"]) == {"AA", "BB", "CC",
                                                       "platform default (R3 S0 T5 P1, 20 rounds)"}
    for name in ("config.json", "table.md", "nll_by_study.png", "surrogate.pt"):
        assert (tmp_path / "surrogate" / name).is_file()

    out = tmp_path / "asymmetry"
    argv = ["--out", str(out), "--small", "--data", str(data),
            "--true-surrogate", str(tmp_path / "surrogate" / "surrogate.pt"),
            "--fidelities", "0", "1", "--betas", "0", "1", "--horizons", "3", "6",
            "--iterations", "1", "--eval-episodes", "16", "--surrogate-steps", "2",
            "--simulated-people", "20", "--jobs", "1"]
    asymmetry = load_experiment("asymmetry")
    asymmetry.main(argv)
    for part, fidelities in (("ipd", 2), ("ipd-study", 1), ("trust", 2)):
        for name in ("config.json", "metrics.json", "table.md", "heatmaps.png", "person_by_round.png"):
            assert (out / part / name).is_file(), (part, name)
        cells = json.loads((out / part / "metrics.json").read_text())["cells"]
        assert len(cells) == fidelities * 3  # fidelities x (beta 0, beta 1, FAIR), one seed
    assert "ZD slope" in (out / "ipd" / "table.md").read_text()
    study = json.loads((out / "ipd-study" / "config.json").read_text())["settings"]["game_params"]
    assert study["continuation_probability"] == 0.9
    assert len(list((out / "ipd" / "cells").glob("*.json"))) == 6
    ipd_opponents = json.loads((out / "ipd" / "metrics.json").read_text())["cells"][0]["against"]
    assert set(ipd_opponents) == {"human surrogate", "tit_for_tat_like", "win_stay_lose_shift",
                                  "q_learning", "own surrogate"}
    table = (out / "turn" / "table.md").read_text()
    assert "| 3 | 1 |" in table and "| 6 | 1 |" in table
    assert (out / "turn" / "turn.png").is_file()

    # A second run finds every cell written and trains nothing.
    capsys.readouterr()
    asymmetry.main(argv)
    assert capsys.readouterr().out.count("running 0") == 5  # ipd, ipd-study, trust, two turn games


def test_the_asymmetry_script_checks_its_arguments(tmp_path, capsys):
    asymmetry = load_experiment("asymmetry")
    with pytest.raises(SystemExit):
        asymmetry.main(["--out", str(tmp_path), "--parts", "ipd", "--data", str(tmp_path / "none.csv")])
    assert "--data" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="fidelities must be fractions"):
        asymmetry.main(["--out", str(tmp_path), "--parts", "trust", "--fidelities", "2"])
