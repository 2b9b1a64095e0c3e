"""experiments/bandit_optimum.py: the whole script with small settings (the solver, the oracle
adversary and the family optimum are tested in tests/shaping_core/test_bandit_dp.py)."""

import json

import pytest

from helpers import load_experiment


@pytest.fixture(scope="module")
def optimum():
    return load_experiment("bandit_optimum")


def test_the_script_writes_its_figures_and_checks_its_arguments(optimum, tmp_path, capsys):
    optimum.main(["--out", str(tmp_path), "--alpha", "0.3", "--beta", "2", "6", "--kappa", "0.3",
                  "--grid", "5", "--episodes", "64"])
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [row["learner_params"]["beta"] for row in rows] == [2.0, 6.0]
    assert rows[1]["optimum"] > rows[0]["optimum"] > 0.5  # a greedier learner is easier to steer
    for name in ("config.json", "metrics.json", "optimum.png"):
        assert (tmp_path / name).is_file()
    with pytest.raises(SystemExit):
        optimum.main(["--out", str(tmp_path), "--alpha", "1.5"])
    assert "alpha" in capsys.readouterr().err


def test_the_script_solves_zoo_families(optimum, tmp_path, capsys):
    optimum.main(["--out", str(tmp_path), "--family", "wsls", "--participants", "2",
                  "--episodes", "64"])
    [row] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["family"] == "wsls" and row["participants"] == 2
    assert row["optimum"] > row["random_schedule"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert len(metrics["details"][0]["participants"]) == 2
    with pytest.raises(SystemExit):
        optimum.main(["--out", str(tmp_path), "--family", "nobody"])
    assert "no family 'nobody'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        optimum.main(["--out", str(tmp_path), "--family", "wsls", "--beta", "8"])
    assert "drop --beta" in capsys.readouterr().err
