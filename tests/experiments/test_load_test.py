"""experiments/load_test.py and experiments/bench_move.py with tiny settings against a real server
(helpers.LiveServer, its own SQLite database, which both scripts read through DATABASE_URL)."""

import json
import subprocess
import sys

import pytest

from helpers import ROOT, LiveServer

SETUP = """
import json, sys
sys.path.insert(0, "tests")
from helpers import make_study
study = make_study("bandit", params={"trials": 30, "rewards_per_option": 8})
print(json.dumps({"slug": study.slug}))
"""


def run(script: str, server: LiveServer, *args: str) -> subprocess.CompletedProcess:
    env = {**server.env, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "experiments" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("load-server")).start(setup=SETUP)
    server.slug = json.loads(server.setup_output.strip().splitlines()[-1])["slug"]
    yield server
    server.stop()


@pytest.mark.slow
def test_load_test_reports_latency_and_finds_nothing_lost(server, tmp_path):
    done = run("load_test.py", server, "--base-url", server.base_url, "--study", server.slug,
               "--participants", "4", "--rate", "5", "--duration", "3", "--ramp", "0.5", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    assert metrics["moves_acknowledged"] == metrics["moves_sent"] > 20
    assert metrics["latency_ms_steady"]["n"] > 0 and metrics["latency_ms_steady"]["p99"] > 0
    assert metrics["database"]["lost"] == metrics["database"]["duplicated"] == 0
    assert metrics["database"]["acknowledged"] == metrics["moves_acknowledged"]
    assert metrics["database"]["stored"] >= metrics["moves_acknowledged"]
    assert metrics["join_failures"] == {} and metrics["joins"] >= 4
    for name in ("config.json", "metrics.json", "load_test.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_load_test_rejects_bad_arguments(server, tmp_path):
    done = run("load_test.py", server, "--base-url", "localhost:8000", "--participants", "2", "--duration", "1")
    assert done.returncode == 2 and "--base-url must be http(s)://HOST[:PORT]" in done.stderr
    done = run("load_test.py", server, "--base-url", server.base_url, "--participants", "0", "--duration", "1")
    assert done.returncode == 2 and "expected a positive integer, got '0'" in done.stderr


@pytest.mark.slow
def test_bench_move_counts_statements_and_times_a_move(server, tmp_path):
    done = run("bench_move.py", server, "--study", server.slug, "--moves", "10", "--repeats", "2",
               "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    assert metrics["ms_per_move"]["median"] > 0 and len(metrics["ms_per_move"]["runs"]) == 2
    # A bandit move: lock, newest trial, the choice, the next trial opened.
    assert metrics["statements_per_move_by_kind"] == {"INSERT": 1.0, "SELECT": 2.0, "UPDATE": 1.0}
    assert (tmp_path / "bench_move.png").stat().st_size > 0
    done = run("bench_move.py", server, "--study", "no-such-study", "--out", str(tmp_path))
    assert done.returncode == 2 and "no live study 'no-such-study'" in done.stderr
