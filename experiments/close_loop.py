"""Close the loop on a live server: bots play, a surrogate is fitted, a MAX adversary is trained,
registered and played against new bots, and the report shows the change.

    .venv/bin/python experiments/close_loop.py --out out/close_loop [--game bandit] \
        [--learner q_learning] [--participants 40] [--seed 0]

Everything runs against a real server that the script starts and stops itself: a throw-away
SQLite database in --out, `manage.py migrate`, then daphne on a free port of 127.0.0.1. The
steps, each timed:

  1. study 1, one condition `random` playing the game's random baseline (bandit:
     random_schedule), launched through webapp.studies.services;
  2. bots (webapp.bots.run_bots, the synthetic --learner as their brain) take part through the
     public join link, the HTML forms and the websocket, exactly as browsers do;
  3. `manage.py export_trials --format parquet`;
  4. `python -m shaping_core fit-surrogate` on that export (k-fold CV over the bots);
  5. `python -m shaping_core train-adversary --objective max` against the surrogate;
  6. `manage.py register_policy` stores the checkpoint as policy:NAME;
  7. study 2: condition `max` (policy:NAME) and, unless --no-control, a concurrent control
     condition `random` (the baseline again), launched;
  8. bots play study 2 (new bots, the same learner);
  9. `export_trials` again, and the report: per study and condition the game's measure (bandit:
     the target-choice rate; go/no-go: the error rate; otherwise the adversary's points, which
     MAX maximises) with mean, standard deviation and n over participants, the earnings of both
     sides, the differences with bootstrap 95 % intervals and permutation p-values, and
     `evaluate-adversary` of the trained adversary and the baseline against the surrogate and
     against the true synthetic learner (what the simulation predicted for the live study).

--participants is per condition: study 1 gets N bots, study 2 N per condition (2N with the
control). Writes to --out: config.json (arguments, seeds, versions, commands), metrics.json
(every figure and step time), close_loop.png, the exports (study1.parquet, study2.parquet), the
surrogate (surrogate.pt, surrogate/) and adversary (adversary.pt, adversary/) with their
reports, logs/ (each command's output, the server's log) and server.sqlite3. The last line
printed is one JSON object with the headline figures.

Reproducibility: the bots' choices, the surrogate fit, the training and the evaluations are
seeded from --seed. The server draws each participant's own seed (the random schedule, the
trained policy's sampling) from the operating system, as in a real study, so two runs differ in
the adversaries' draws; compare runs by their intervals, not to the last digit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shaping_core.arguments import json_object, nonnegative, positive, positive_list  # noqa: E402

BLOCK = 10  # trials per block in the figure
BOOTSTRAP = 10_000  # resamples for intervals and permutations for p-values
SERVER_START_TIMEOUT_S = 90.0
# Files this script writes in --out; --overwrite removes exactly these before a run.
OWNED = ("config.json", "metrics.json", "close_loop.png", "study1.parquet", "study2.parquet",
         "surrogate.pt", "surrogate", "adversary.pt", "adversary", "logs", "var", "server.sqlite3",
         "server.sqlite3-wal", "server.sqlite3-shm")


class StepFailed(RuntimeError):
    """A step of the loop could not finish; the message says which and where its log is."""


# --- arguments ------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="experiments/close_loop.py",
        description="Bots play a random adversary on a live server; a surrogate is fitted to the "
                    "export, a MAX adversary trained against it, registered and played by new bots.")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--overwrite", action="store_true",
                        help="remove a previous run's files from --out first")
    parser.add_argument("--game", default="bandit", help="a game with a MAX objective (default bandit)")
    parser.add_argument("--game-params", type=json_object, default={}, metavar="JSON",
                        help="the studies' game parameters (default: the game's defaults)")
    parser.add_argument("--learner", default="q_learning",
                        help="the bots' brain, a synthetic learner of shaping_core/learners "
                             "(default q_learning)")
    parser.add_argument("--learner-params", type=json_object, default={}, metavar="JSON",
                        help='e.g. \'{"alpha": [0.2, 0.5]}\' (a number or a [low, high] range each)')
    parser.add_argument("--participants", type=positive, default=40,
                        help="bots per condition (study 1: N; study 2: N per condition; default 40)")
    parser.add_argument("--no-control", dest="control", action="store_false",
                        help="study 2 without the concurrent random-adversary control condition")
    parser.add_argument("--concurrency", type=positive, default=6, help="bots playing at once (default 6)")
    parser.add_argument("--seed", type=nonnegative, default=0, help="seeds every step (default 0)")
    surrogate = parser.add_argument_group("surrogate fit (python -m shaping_core fit-surrogate)")
    surrogate.add_argument("--hidden-sizes", type=positive_list, default=[8, 16], metavar="H,H,...",
                           help="GRU sizes compared by cross-validation (default 8,16)")
    surrogate.add_argument("--folds", type=positive, default=3, help="k of k-fold CV (default 3)")
    surrogate.add_argument("--max-epochs", type=positive, default=100, help="default 100")
    surrogate.add_argument("--patience", type=positive, default=15, help="default 15")
    adversary = parser.add_argument_group("adversary training (python -m shaping_core train-adversary)")
    adversary.add_argument("--iterations", type=positive, default=150, help="PPO batches (default 150)")
    adversary.add_argument("--batch-size", type=positive, default=256,
                           help="surrogate episodes per batch (default 256)")
    adversary.add_argument("--adversary-hidden-size", type=positive, default=None,
                           help="of the adversary's GRU (default: train-adversary's)")
    adversary.add_argument("--eval-episodes", type=positive, default=2048,
                           help="episodes of every evaluate-adversary run (default 2048)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu",
                        help="where the surrogate and the adversary train (default cpu)")
    parser.add_argument("--threads", type=positive, default=1,
                        help="torch threads of each child process (default 1)")
    parser.add_argument("--port", type=nonnegative, default=0,
                        help="the server's port on 127.0.0.1 (default 0: a free one)")
    return parser


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Everything that can be checked before a server starts; parser.error exits with status 2."""
    from shaping_core.games import GAMES, make_game
    from shaping_core.learners import LEARNERS, make_learner
    from shaping_core.params import ParamsError

    if args.game not in GAMES:
        parser.error(f"--game: unknown game {args.game!r}; expected one of {', '.join(GAMES)}")
    try:
        game = make_game(args.game, args.game_params)
    except ParamsError as error:
        parser.error(f"--game-params: {error}")
    if "max" not in game.spec.objectives:
        parser.error(f"--game {args.game}: no MAX objective")
    if args.learner not in LEARNERS:
        parser.error(f"--learner: unknown learner {args.learner!r}; expected one of {', '.join(LEARNERS)}")
    if args.game not in LEARNERS[args.learner].games:
        fits = [name for name, cls in LEARNERS.items() if args.game in cls.games]
        parser.error(f"--learner {args.learner} cannot play {args.game}; learners that can: {', '.join(fits)}")
    try:
        make_learner(args.learner, game, args.learner_params)
    except ParamsError as error:
        parser.error(f"--learner-params: {error}")
    if args.participants < args.folds:
        parser.error(f"--participants {args.participants} is fewer than --folds {args.folds}: the "
                     f"surrogate's cross-validation needs at least one participant per fold")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda, but CUDA is not available here")
    if args.port > 65535:
        parser.error(f"--port {args.port} is not a port number")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} exists and is not a folder")
    leftovers = [name for name in OWNED if (args.out / name).exists()]
    if leftovers and not args.overwrite:
        parser.error(f"--out {args.out} holds a previous run ({', '.join(leftovers[:4])}, ...): "
                     f"choose another folder or add --overwrite")


# --- the server and the children ------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_environment(out: Path, threads: int) -> dict[str, str]:
    """The environment of every child and of this process's Django: the run's own database and
    var folder, the in-memory channel layer, no proxies, `threads` torch threads."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                        "all_proxy", "ALL_PROXY")}
    env.update({
        "DATABASE_URL": f"sqlite:///{(out / 'server.sqlite3').resolve()}",
        "SHAPING_LAB_VAR_DIR": str((out / "var").resolve()),
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DJANGO_LOG_LEVEL": "WARNING",
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
        "PYTHONUNBUFFERED": "1",
    })
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


class Runner:
    """Runs the children (manage.py and shaping_core commands), logs them, times the steps."""

    def __init__(self, out: Path, env: dict[str, str]):
        self.out, self.env = out, env
        self.logs = out / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.commands: list[dict[str, Any]] = []
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, number: int, name: str, what: str):
        print(f"[{number}/9] {what} ...", flush=True)
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 1)
        print(f"      {name}: {self.seconds[name]:.1f} s", flush=True)

    def run(self, name: str, argv: list[str], *, json_tail: bool = False) -> dict | str:
        """Run a child to the end; its stdout and stderr go to logs/<name>.log and stderr's
        progress bars also to this terminal. Returns the last line parsed as JSON (json_tail) or
        all of stdout."""
        command = [sys.executable, *argv]
        log_path = self.logs / f"{name}.log"
        self.commands.append({"step": name, "argv": [Path(command[0]).name, *argv], "log": str(log_path)})
        stdout_lines: list[str] = []
        with open(log_path, "w") as log:
            log.write("$ " + " ".join(command) + "\n")
            log.flush()
            process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, bufsize=1)
            lock = threading.Lock()

            def pump_stderr():
                for chunk in iter(lambda: process.stderr.read(256), ""):
                    with lock:
                        log.write(chunk)
                    if sys.stderr.isatty():
                        sys.stderr.write(chunk)
                        sys.stderr.flush()

            thread = threading.Thread(target=pump_stderr, daemon=True)
            thread.start()
            try:
                for line in process.stdout:
                    stdout_lines.append(line.rstrip("\n"))
                    with lock:
                        log.write(line)
                code = process.wait()
            except BaseException:  # interrupted: take the child down with us, by its pid
                process.kill()
                process.wait()
                raise
            thread.join(timeout=10)
        if code != 0:
            tail = "\n".join(log_path.read_text().splitlines()[-15:])
            raise StepFailed(f"{name} failed with exit status {code}; log {log_path}:\n{tail}")
        return _result(name, stdout_lines, log_path, json_tail)

    def manage(self, name: str, *argv: str) -> str:
        """`manage.py ARGV` in this process (Django is set up on the run's database), through
        call_command: the same command, without a second interpreter's start-up; output to
        logs/<name>.log. Returns what the command printed."""
        import io

        from django.core.management import CommandError, call_command
        from django.db import connections

        log_path = self.logs / f"{name}.log"
        self.commands.append({"step": name, "argv": ["manage.py", *argv], "log": str(log_path),
                              "in_process": True})
        buffer = io.StringIO()
        try:
            call_command(*argv, stdout=buffer, stderr=buffer)
        except CommandError as error:
            buffer.write(f"CommandError: {error}\n")
            raise StepFailed(f"{name} failed: {error}; log {log_path}") from None
        finally:
            connections.close_all()  # hold no SQLite connection while the server writes
            log_path.write_text("$ manage.py " + " ".join(argv) + "\n" + buffer.getvalue())
        return buffer.getvalue()

    def run_cli(self, name: str, argv: list[str]) -> dict:
        """`python -m shaping_core ARGV` in this process (its startup, mostly importing torch,
        costs seconds per child on a busy machine); output to logs/<name>.log like a child's."""
        import io

        from shaping_core.__main__ import main as shaping_core_main

        log_path = self.logs / f"{name}.log"
        self.commands.append({"step": name, "argv": ["-m", "shaping_core", *argv], "log": str(log_path),
                              "in_process": True})
        buffer = io.StringIO()
        code = 0
        try:
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                shaping_core_main(argv)
        except SystemExit as exit_:  # argparse's error() on a bad argument
            code = exit_.code if isinstance(exit_.code, int) else 1
        log_path.write_text("$ python -m shaping_core " + " ".join(argv) + "\n" + buffer.getvalue())
        if code:
            tail = "\n".join(log_path.read_text().splitlines()[-15:])
            raise StepFailed(f"{name} failed with exit status {code}; log {log_path}:\n{tail}")
        return _result(name, buffer.getvalue().splitlines(), log_path, True)


def _result(name: str, stdout_lines: list[str], log_path: Path, json_tail: bool) -> dict | str:
    """All of a command's output, or its last line read as JSON (the shaping_core CLI's summary)."""
    if not json_tail:
        return "\n".join(stdout_lines)
    for line in reversed(stdout_lines):
        if line.strip():
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                break
    raise StepFailed(f"{name}: the last line of its output is not JSON; log {log_path}")


class Server:
    """daphne serving webapp.asgi on 127.0.0.1:port, stopped by its process id."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path):
        self.env, self.port, self.log_path = env, port, log_path
        self.process: subprocess.Popen | None = None
        self.base_url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        import httpx

        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "webapp.asgi:application"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StepFailed(f"the server exited with status {self.process.returncode} while "
                                 f"starting; log {self.log_path}:\n{self._tail()}")
            try:
                httpx.get(f"{self.base_url}/", timeout=2, trust_env=False)
                return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise StepFailed(f"the server did not answer on {self.base_url} within "
                         f"{SERVER_START_TIMEOUT_S:.0f} s; log {self.log_path}:\n{self._tail()}")

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            raise StepFailed(f"the server is not running; log {self.log_path}:\n{self._tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # by its pid: daphne runs in one process
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        if getattr(self, "log", None) is not None and not self.log.closed:
            self.log.close()

    def _tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        return ""


# --- studies (this process's Django, on the run's database) ----------------------------------------

def setup_django(env: dict[str, str]) -> None:
    for key in ("DATABASE_URL", "SHAPING_LAB_VAR_DIR", "DJANGO_SETTINGS_MODULE", "DJANGO_LOG_LEVEL"):
        os.environ[key] = env[key]
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def create_study(*, slug: str, name: str, game: str, game_params: dict,
                 conditions: list[tuple[str, str, dict]]) -> dict[str, Any]:
    """Create and launch a study through the models' validation and the services."""
    from django.db import connections, transaction

    from webapp.studies.models import Condition, Study
    from webapp.studies.services import study_set_status

    with transaction.atomic():
        study = Study(name=name, slug=slug, game=game, game_params=game_params,
                      completion_code="LOOP-COMPLETE")
        study.full_clean()
        study.save()
        for condition_name, adversary, params in conditions:
            condition = Condition(study=study, name=condition_name, adversary=adversary,
                                  adversary_params=params)
            condition.full_clean()
            condition.save()
    study = study_set_status(study=study, action="launch")
    connections.close_all()  # hold no SQLite connection while the server writes
    return {"slug": study.slug, "game_params": study.game_params,
            "conditions": [{"name": n, "adversary": a, "adversary_params": p} for n, a, p in conditions]}


def play_bots(base_url: str, slug: str, count: int, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    from django.db import connections

    from webapp.bots import run_bots
    from webapp.studies.selectors import participant_conditions

    summary = asyncio.run(run_bots(base_url, slug, args.learner, count, args.concurrency, seed,
                                   args.learner_params or None, progress=True))
    summary.label_conditions(participant_conditions(tokens=summary.tokens))
    connections.close_all()
    for line in summary.report().splitlines():
        print(f"      {line}", flush=True)
    if not summary.completed:
        reasons = "; ".join(f"{reason} (x{n})" for reason, n in summary.failure_reasons().most_common(3))
        raise StepFailed(f"no bot finished study {slug}: {reasons}")
    return {"bots": count, "completed": len(summary.completed), "failed": len(summary.failed),
            "failure_reasons": dict(summary.failure_reasons()), "seconds": round(summary.seconds, 1),
            "bots_per_second": round(summary.bots_per_second, 3), "seed": summary.seed,
            "choices": sum(len(r.moves) for r in summary.results),
            "reconnects": sum(r.reconnects for r in summary.results),
            "by_condition": {name: {"bots": len(group),
                                    "mean_points": _round(sum(float(r.points) for r in group) / len(group)),
                                    "mean_total_money": _round(sum(float(r.total) for r in group) / len(group)),
                                    "currency": group[0].currency}
                             for name, group in summary.by_condition().items()}}


# --- the report ----------------------------------------------------------------------------------

def measure_of(game_name: str) -> tuple[str, str]:
    """(key, label) of the game's measure: the adversary's points per trial read as the bandit's
    target-choice rate and go/no-go's error rate (docs/data.md: adversary_reward), and as the
    adversary's points per episode elsewhere."""
    from shaping_core.games import GAMES

    return GAMES[game_name].spec.headline_rate or ("adversary_points", "adversary points")


def per_participant(frame, game_name: str):
    """One row per completed participant: the measure and both sides' earnings."""
    import pandas as pd

    key, _ = measure_of(game_name)
    done = frame[frame["participant_status"] == "completed"]
    grouped = done.groupby(["study", "condition", "participant"], sort=True)
    table = grouped.agg(trials=("trial", "size"), participant_points=("participant_reward", "sum"),
                        adversary_points=("adversary_reward", "sum")).reset_index()
    if key != "adversary_points":
        table[key] = table["adversary_points"] / table["trials"]
    return pd.DataFrame(table)


def describe(values) -> dict[str, float]:
    import numpy as np

    values = np.asarray(values, dtype=float)
    n = len(values)
    std = float(values.std(ddof=1)) if n > 1 else float("nan")
    return {"mean": _round(float(values.mean())) if n else None, "std": _round(std), "n": n,
            "sem": _round(std / math.sqrt(n)) if n > 1 else None}


def compare(a, b, seed: int) -> dict[str, Any]:
    """mean(a) - mean(b) with a bootstrap 95 % interval (participants resampled within each group)
    and a two-sided permutation p-value; assumption-light for small groups of bots."""
    import numpy as np

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return {"difference": None, "ci95": None, "p_permutation": None, "n": [len(a), len(b)]}
    rng = np.random.default_rng(seed)
    difference = a.mean() - b.mean()
    boot = (rng.choice(a, (BOOTSTRAP, len(a))).mean(axis=1) - rng.choice(b, (BOOTSTRAP, len(b))).mean(axis=1))
    pooled = np.concatenate([a, b])
    permuted = np.argsort(rng.random((BOOTSTRAP, len(pooled))), axis=1)
    shuffled = pooled[permuted]
    null = shuffled[:, :len(a)].mean(axis=1) - shuffled[:, len(a):].mean(axis=1)
    p = (1 + int((np.abs(null) >= abs(difference) - 1e-12).sum())) / (BOOTSTRAP + 1)
    pooled_sd = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / (len(a) + len(b) - 2))
    return {"difference": _round(float(difference)),
            "ci95": [_round(float(np.quantile(boot, 0.025))), _round(float(np.quantile(boot, 0.975)))],
            "p_permutation": _round(p, 5), "cohens_d": _round(float(difference / pooled_sd)) if pooled_sd > 0 else None,
            "n": [len(a), len(b)]}


def block_curves(frame, game_name: str) -> dict[str, dict[str, list]]:
    """Per study/condition: the adversary's reward per trial (bandit: target chosen) averaged over
    blocks of BLOCK trials, mean and SEM over participants."""
    done = frame[frame["participant_status"] == "completed"].copy()
    done["block"] = done["trial"] // BLOCK
    curves = {}
    for (study, condition), group in done.groupby(["study", "condition"], sort=True):
        per = group.groupby(["participant", "block"])["adversary_reward"].mean().unstack("block")
        n = per.notna().sum(axis=0)
        curves[f"{study}/{condition}"] = {
            "block_start": [int(b) * BLOCK for b in per.columns],
            "mean": [_round(float(v)) for v in per.mean(axis=0)],
            "sem": [_round(float(s / math.sqrt(k))) if k > 1 else None
                    for s, k in zip(per.std(axis=0, ddof=1), n)],
            "n": [int(k) for k in n]}
    return curves


def plot(path: Path, curves: dict, participants, labels: dict[str, str], game_name: str,
         simulated: dict[str, float | None]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    key, label = measure_of(game_name)
    per_trial = label if key != "adversary_points" else "adversary points per trial"
    colours = {"study 1 / random": "tab:grey", "study 2 / random": "tab:blue", "study 2 / max": "tab:red"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    for name, curve in curves.items():
        x = np.array(curve["block_start"]) + BLOCK / 2
        mean = np.array(curve["mean"], dtype=float)
        sem = np.array([s if s is not None else 0.0 for s in curve["sem"]], dtype=float)
        colour = colours.get(labels[name])
        axes[0].plot(x, mean, marker="o", ms=3, color=colour, label=f"{labels[name]} (n={max(curve['n'])})")
        axes[0].fill_between(x, mean - sem, mean + sem, color=colour, alpha=0.2)
    if key == "target_rate":
        axes[0].axhline(0.5, color="black", lw=0.6, ls=":")
    axes[0].set(xlabel=f"trial (blocks of {BLOCK})", ylabel=per_trial,
                title=f"{game_name}: {per_trial} by block (mean ± SEM over participants)")
    axes[0].legend(fontsize=8)
    groups = list(labels)
    rng = np.random.default_rng(0)
    for i, name in enumerate(groups):
        study, condition = name.split("/")
        values = participants[(participants["study"] == study) & (participants["condition"] == condition)][key]
        colour = colours.get(labels[name])
        axes[1].scatter(i + rng.uniform(-0.15, 0.15, len(values)), values, s=10, alpha=0.6, color=colour)
        if len(values):
            axes[1].errorbar(i + 0.3, values.mean(), yerr=values.std(ddof=1) if len(values) > 1 else 0,
                             fmt="o", color="black", capsize=4)
    for i, name in enumerate(groups):
        sim = simulated.get(labels[name])
        if sim is not None:
            axes[1].plot([i - 0.25, i + 0.4], [sim, sim], color="black", ls="--", lw=0.8)
    axes[1].set_xticks(range(len(groups)), [labels[g] for g in groups], fontsize=8)
    axes[1].set(ylabel=label, title="per participant (mean ± SD)\ndashed: simulated vs the learner")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _round(value, digits: int = 4):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return round(value, digits)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version(), "platform": platform.platform()}
    for package in ("torch", "Django", "channels", "daphne", "numpy", "pandas", "pyarrow", "httpx", "websockets"):
        with contextlib.suppress(PackageNotFoundError):
            found[package] = version(package)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        if commit.returncode == 0:
            found["git_commit"] = commit.stdout.strip()
            found["git_dirty"] = bool(dirty.stdout.strip())
    return found


# --- the loop ------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd
    import torch

    started = time.perf_counter()
    torch.set_num_threads(args.threads)  # the bots' learners and the evaluations run here
    out: Path = args.out
    if args.overwrite:
        for name in OWNED:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)
    env = child_environment(out, args.threads)
    runner = Runner(out, env)
    game = args.game
    key, label = measure_of(game)
    from shaping_core.games import make_game

    baseline, baseline_params = make_game(game, args.game_params).baseline_adversary
    policy_name = f"loop-{game}-max-seed{args.seed}"
    seeds = {"bots_study1": args.seed, "bots_study2": args.seed + 1, "surrogate": args.seed,
             "adversary": args.seed, "evaluation": args.seed + 2, "bootstrap": args.seed + 3}
    slugs = {1: f"loop-{game}-1", 2: f"loop-{game}-2"}
    conditions: dict[str, list[tuple[str, str, dict]]] = {}  # per study: (name, adversary, params)
    config = {"arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "seeds": seeds, "baseline": {"adversary": baseline, "params": baseline_params},
              "policy_name": policy_name, "studies": slugs, "versions": versions(),
              "database": env["DATABASE_URL"], "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    (out / "config.json").write_text(json.dumps(config, indent=2))
    print(f"close_loop: {game}, bots = {args.learner}, {args.participants} per condition, seed {args.seed}, "
          f"out {out}", flush=True)

    with runner.step(0, "migrate_and_serve", "a fresh database (manage.py migrate) and daphne"):
        setup_django(env)
        runner.manage("migrate", "migrate", "--noinput")
        port = args.port or free_port()
        server = Server(env, port, runner.logs / "server.log")
        server.start()
    metrics: dict[str, Any] = {"game": game, "measure": key, "learner": args.learner}
    try:
        metrics["server"] = {"pid": server.process.pid, "base_url": server.base_url}
        print(f"server: daphne pid {server.process.pid} on {server.base_url} "
              f"(database {out / 'server.sqlite3'})", flush=True)

        with runner.step(1, "study1_create", f"study 1 ({slugs[1]}): condition random = {baseline}"):
            conditions[slugs[1]] = [("random", baseline, baseline_params)]
            study1 = create_study(slug=slugs[1], name=f"Closed loop {game}: random", game=game,
                                  game_params=args.game_params, conditions=conditions[slugs[1]])
        game_params = study1["game_params"]  # every default filled in

        with runner.step(2, "study1_bots", f"{args.participants} bots play study 1 through {server.base_url}"):
            metrics["bots_study1"] = play_bots(server.base_url, slugs[1], args.participants, args,
                                               seeds["bots_study1"])
        server.check_alive()

        export1 = out / "study1.parquet"
        with runner.step(3, "study1_export", f"export study 1 to {export1.name}"):
            print("      " + runner.manage("study1_export", "export_trials", "--study", slugs[1],
                                              "--format", "parquet", "--output", str(export1)).strip())

        surrogate = out / "surrogate.pt"
        with runner.step(4, "fit_surrogate", f"fit the surrogate (sizes {args.hidden_sizes}, {args.folds}-fold CV)"):
            metrics["surrogate_fit"] = runner.run("fit_surrogate", [
                "-m", "shaping_core", "fit-surrogate", "--game", game, "--game-params", json.dumps(game_params),
                "--data", str(export1), "--out", str(surrogate),
                "--hidden-sizes", ",".join(map(str, args.hidden_sizes)), "--folds", str(args.folds),
                "--max-epochs", str(args.max_epochs), "--patience", str(args.patience),
                "--seed", str(seeds["surrogate"]), "--device", args.device, "--threads", str(args.threads)],
                json_tail=True)
            fit = metrics["surrogate_fit"]
            print(f"      held-out NLL/choice {fit['nll_per_choice']:.3f} (uniform "
                  f"{fit['baseline_nll_per_choice']:.3f}), accuracy {fit['accuracy']:.3f}, "
                  f"GRU {fit['hidden_size']}", flush=True)

        adversary = out / "adversary.pt"
        with runner.step(5, "train_adversary", f"train a MAX adversary ({args.iterations} x {args.batch_size} episodes)"):
            train = ["-m", "shaping_core", "train-adversary", "--game", game, "--surrogate", str(surrogate),
                     "--objective", "max", "--out", str(adversary), "--method", "ppo", "--iterations", str(args.iterations),
                     "--batch-size", str(args.batch_size), "--eval-episodes", str(args.eval_episodes),
                     "--seed", str(seeds["adversary"]), "--device", args.device, "--threads", str(args.threads)]
            if args.adversary_hidden_size:
                train += ["--hidden-size", str(args.adversary_hidden_size)]
            metrics["adversary_training"] = runner.run("train_adversary", train, json_tail=True)

        with runner.step(6, "register_policy", f"register the adversary as policy:{policy_name}"):
            print("      " + runner.manage(
                "register_policy", "register_policy", str(adversary), "--name", policy_name,
                "--description", f"closed loop: MAX vs the surrogate fitted on {slugs[1]}"
            ).strip().split(", metrics")[0])  # the metrics are in adversary/metrics.json

        with runner.step(7, "study2_create", f"study 2 ({slugs[2]}): max = policy:{policy_name}"
                                             + (f", random = {baseline}" if args.control else "")):
            conditions[slugs[2]] = [("max", f"policy:{policy_name}", {})]
            if args.control:
                conditions[slugs[2]].append(("random", baseline, baseline_params))
            create_study(slug=slugs[2], name=f"Closed loop {game}: trained MAX", game=game,
                         game_params=game_params, conditions=conditions[slugs[2]])

        count2 = args.participants * len(conditions[slugs[2]])
        with runner.step(8, "study2_bots", f"{count2} bots play study 2"):
            metrics["bots_study2"] = play_bots(server.base_url, slugs[2], count2, args, seeds["bots_study2"])
        server.check_alive()

        export2 = out / "study2.parquet"
        with runner.step(9, "study2_export_and_report", "export study 2, evaluate, report"):
            print("      " + runner.manage("study2_export", "export_trials", "--study", slugs[2],
                                              "--format", "parquet", "--output", str(export2)).strip())
            server.stop()
            metrics["evaluations"] = evaluations(runner, args, game, surrogate, adversary, baseline,
                                                 baseline_params, seeds["evaluation"])
            metrics["surrogate_on_study2"] = runner.run_cli("evaluate_surrogate_study2", [
                "evaluate-surrogate", "--model", str(surrogate), "--data", str(export2)])
    finally:
        server.stop()

    frame = pd.concat([pd.read_parquet(export1), pd.read_parquet(export2)], ignore_index=True)
    participants = per_participant(frame, game)
    labels = {f"{slug}/{name}": f"study {number} / {name}"
              for number, slug in slugs.items() for name, *_ in conditions[slug]}
    groups = {}
    for name, text in labels.items():
        study, condition = name.split("/")
        rows = participants[(participants["study"] == study) & (participants["condition"] == condition)]
        groups[text] = rows
        metrics.setdefault("live", {})[text] = {
            "adversary": next(a for c, a, _ in conditions[study] if c == condition),
            key: describe(rows[key]), "participant_points": describe(rows["participant_points"]),
            "adversary_points": describe(rows["adversary_points"]), "trials": int(rows["trials"].sum()),
            "incomplete_participants": int(frame[(frame["study"] == study) & (frame["condition"] == condition)
                                                 & (frame["participant_status"] != "completed")]["participant"].nunique())}
    comparisons = {"study 2 / max - study 1 / random": ("study 2 / max", "study 1 / random")}
    if args.control:
        comparisons["study 2 / max - study 2 / random"] = ("study 2 / max", "study 2 / random")
        comparisons["study 2 / random - study 1 / random"] = ("study 2 / random", "study 1 / random")
    metrics["comparisons"] = {name: {field: compare(groups[a][field], groups[b][field], seeds["bootstrap"])
                                     for field in dict.fromkeys([key, "participant_points", "adversary_points"])}
                              for name, (a, b) in comparisons.items()}
    metrics["block_curves"] = block_curves(frame, game)
    metrics["per_participant"] = participants.to_dict(orient="records")
    ev = metrics["evaluations"]
    simulated = {"study 1 / random": ev["baseline_vs_learner"].get(key),
                 "study 2 / random": ev["baseline_vs_learner"].get(key),
                 "study 2 / max": ev["trained_vs_learner"].get(key)}
    if key == "adversary_points":
        simulated = {k: None for k in simulated}  # per episode, not comparable with the panel's scale
    plot(out / "close_loop.png", {k: v for k, v in metrics["block_curves"].items()},
         participants, labels, game, simulated)
    metrics["step_seconds"] = runner.seconds
    metrics["total_seconds"] = round(time.perf_counter() - started, 1)
    config["commands"] = runner.commands
    (out / "config.json").write_text(json.dumps(config, indent=2))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=_jsonable))
    return metrics


def evaluations(runner: Runner, args, game: str, surrogate: Path, adversary: Path, baseline: str,
                baseline_params: dict, seed: int) -> dict[str, dict]:
    """The trained adversary and the baseline, each against the surrogate and the true learner."""
    results = {}
    learner = ["--learner-params", json.dumps(args.learner_params)] if args.learner_params else []
    for who, spec in (("trained", [str(adversary)]),
                      ("baseline", [baseline, "--adversary-params", json.dumps(baseline_params), "--game", game,
                                    "--game-params", json.dumps(_study_game_params(game, args))])):
        for against, target, extra in (("surrogate", f"surrogate:{surrogate}", []),
                                       ("learner", f"learner:{args.learner}", learner)):
            results[f"{who}_vs_{against}"] = runner.run_cli(f"evaluate_{who}_vs_{against}", [
                "evaluate-adversary", "--adversary", *spec, "--against", target,
                *extra, "--episodes", str(args.eval_episodes), "--seed", str(seed)])
    return results


def _study_game_params(game: str, args) -> dict:
    from shaping_core.games import make_game

    return make_game(game, args.game_params).params.to_mapping()


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def summary_lines(metrics: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    key, label = measure_of(metrics["game"])
    lines = ["", f"=== closed loop: {metrics['game']}, bots = {metrics['learner']} ===", "",
             f"{'study / condition':<20} {'adversary':<34} {label + ' (mean ± SD, n)':>32} "
             f"{'bot points':>12} {'adversary points':>17}"]
    for text, row in metrics["live"].items():
        m, pp, ap = row[key], row["participant_points"], row["adversary_points"]
        lines.append(f"{text:<20} {row['adversary'][:34]:<34} {_fmt(m):>32} {pp['mean']:>12.2f} {ap['mean']:>17.2f}")
    lines += ["", f"differences in {label} (bootstrap 95 % CI, permutation p):"]
    for name, fields in metrics["comparisons"].items():
        c = fields[key]
        if c["difference"] is not None:
            p = c["p_permutation"]
            p_text = f"p <= {p:.4f}" if p <= 1.5 / (BOOTSTRAP + 1) else f"p = {p:.4f}"
            lines.append(f"  {name:<38} {c['difference']:+.3f} [{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}]  "
                         f"{p_text}, d = {c['cohens_d']}")
    ev = metrics["evaluations"]
    lines += ["", f"simulation ({label}, {ev['trained_vs_learner']['episodes']} episodes each):",
              f"  {'':<10} {'vs surrogate':>14} {'vs ' + metrics['learner']:>16}"]
    for who in ("trained", "baseline"):
        lines.append(f"  {who:<10} {ev[f'{who}_vs_surrogate'].get(key, ev[f'{who}_vs_surrogate']['adversary_return']):>14.3f} "
                     f"{ev[f'{who}_vs_learner'].get(key, ev[f'{who}_vs_learner']['adversary_return']):>16.3f}")
    fit = metrics["surrogate_fit"]
    s2 = metrics["surrogate_on_study2"]
    lines += ["", f"surrogate: GRU {fit['hidden_size']}, held-out NLL/choice {fit['nll_per_choice']:.3f} "
                  f"(uniform {fit['baseline_nll_per_choice']:.3f}); on study 2 "
                  f"{s2.get('nll_per_choice', float('nan')):.3f}",
              "step times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in metrics["step_seconds"].items()),
              f"total: {metrics['total_seconds']:.0f} s"]
    live = metrics["live"]
    headline = {
        "game": metrics["game"], "measure": key, "learner": metrics["learner"],
        "study1_random": live["study 1 / random"][key]["mean"],
        "study2_max": live["study 2 / max"][key]["mean"],
        "study2_random": live.get("study 2 / random", {}).get(key, {}).get("mean"),
        "n": {k: v[key]["n"] for k, v in live.items()},
        "change_vs_study1": metrics["comparisons"]["study 2 / max - study 1 / random"][key],
        "change_vs_control": metrics["comparisons"].get("study 2 / max - study 2 / random", {}).get(key),
        "sim_trained_vs_surrogate": ev["trained_vs_surrogate"].get(key, ev["trained_vs_surrogate"]["adversary_return"]),
        "sim_trained_vs_learner": ev["trained_vs_learner"].get(key, ev["trained_vs_learner"]["adversary_return"]),
        "sim_baseline_vs_learner": ev["baseline_vs_learner"].get(key, ev["baseline_vs_learner"]["adversary_return"]),
        "surrogate_nll_per_choice": fit["nll_per_choice"],
        "total_seconds": metrics["total_seconds"],
    }
    return lines, headline


def _fmt(d: dict) -> str:
    if d["mean"] is None:
        return "-"
    return f"{d['mean']:.3f} ± {d['std'] if d['std'] is not None else float('nan'):.3f}, {d['n']}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_arguments(parser, args)

    def interrupted(signum, frame):  # SIGTERM: unwind so that the server is stopped
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    try:
        metrics = run(args)
    except StepFailed as error:
        print(f"close_loop: {error}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("close_loop: interrupted; the server was stopped", file=sys.stderr, flush=True)
        return 130
    lines, headline = summary_lines(metrics)
    print("\n".join(lines), flush=True)
    print(f"wrote {args.out}/config.json, metrics.json, close_loop.png", flush=True)
    print(json.dumps(headline), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
