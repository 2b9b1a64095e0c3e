"""experiments/close_loop.py end to end with tiny settings: a real daphne server on a free
loopback port, bots over HTTP and the websocket, export, surrogate, training, registration,
a second study and the report. Slow (tens of seconds): deselect with `-m "not slow"`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "close_loop.py"


def run_script(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_bad_arguments_exit_2(tmp_path):
    result = run_script("--out", str(tmp_path), "--game", "chess", timeout=60)
    assert result.returncode == 2
    assert "unknown game 'chess'" in result.stderr
    result = run_script("--out", str(tmp_path), "--game", "trust", timeout=60)  # q_learning cannot
    assert result.returncode == 2
    assert "learners that can: investor" in result.stderr


@pytest.mark.slow
def test_closes_the_loop_with_tiny_settings(tmp_path):
    out = tmp_path / "loop"
    result = run_script("--out", str(out), "--participants", "2", "--no-control", "--concurrency", "2",
                        "--folds", "2", "--hidden-sizes", "4", "--max-epochs", "2", "--patience", "1",
                        "--iterations", "1", "--batch-size", "8", "--eval-episodes", "16", "--seed", "3")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    headline = json.loads(result.stdout.strip().splitlines()[-1])
    assert headline["game"] == "bandit" and headline["measure"] == "target_rate"
    assert headline["n"] == {"study 1 / random": 2, "study 2 / max": 2}
    assert 0 <= headline["study1_random"] <= 1 and 0 <= headline["study2_max"] <= 1

    for name in ("config.json", "metrics.json", "close_loop.png", "study1.parquet", "study2.parquet",
                 "surrogate.pt", "surrogate/metrics.json", "adversary.pt", "adversary/metrics.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["step_seconds"]) >= {"study1_bots", "fit_surrogate", "train_adversary",
                                            "register_policy", "study2_bots", "study2_export_and_report"}
    assert metrics["bots_study2"]["completed"] == 2
    assert metrics["live"]["study 2 / max"]["adversary"] == "policy:loop-bandit-max-seed3"
    assert set(metrics["evaluations"]) == {"trained_vs_surrogate", "trained_vs_learner",
                                           "baseline_vs_surrogate", "baseline_vs_learner"}
    config = json.loads((out / "config.json").read_text())
    assert config["seeds"]["bots_study1"] == 3 and config["versions"]["torch"]
    with pytest.raises(ProcessLookupError):  # the server was stopped
        os.kill(metrics["server"]["pid"], 0)
