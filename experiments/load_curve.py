"""The load curve of one or more versions of the server, measured in one session.

    .venv/bin/python experiments/load_curve.py --tree new=. --tree old=/tmp/old \
        --participants 100,200,300,500,750,1000 [--workers 4] [--duration 30] [--out out/load_curve]

For each tree (a checkout of this project: `label=path`), in turn: a fresh PostgreSQL database
(`shaping_curve_<label>`) and Redis database are set up with that tree's own `migrate`,
`collectstatic` and `seed_demo`; its production server (`python -m webapp.serve`, production
settings, 4 workers) is started; and this checkout's `experiments/load_test.py` is run against
its demo bandit study at each number of participants, one move per second each, the joins ramped
at 10 per second, then --duration seconds of steady play. Every point starts from a freshly started
server. The server, PostgreSQL, Redis and the load generator share this machine.

Writes to --out: config.json, each point's load-test folder (<label>-<participants>/), metrics.json
(per tree and point: moves acknowledged per second, p50/p95/p99 of choice -> result in the steady
part, errors, websocket disconnects, lost and duplicated trials, and the CPU milliseconds per
move of the server's workers, PostgreSQL, Redis and the load generator in the steady part, from
/proc), table.md and load_curve.png; and prints the table.
The trees run with this interpreter (this checkout's .venv), so they must share its requirements.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PORT = 8100
JOINS_PER_S = 10


def _tree(text: str) -> tuple[str, Path]:
    label, _, path = text.partition("=")
    if not label.isidentifier() or not path:
        raise argparse.ArgumentTypeError(f"expected LABEL=PATH (a checkout of this project), got {text!r}")
    tree = Path(path).resolve()
    if not (tree / "manage.py").is_file():
        raise argparse.ArgumentTypeError(f"{tree} is not a checkout of this project (no manage.py)")
    return label, tree


def _counts(text: str) -> list[int]:
    try:
        counts = [int(x) for x in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got {text!r}")
    return counts


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=_tree, action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--participants", type=_counts, default=[100, 200, 300, 500, 750, 1000])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of steady play per point")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/2")
    parser.add_argument("--out", type=Path, default=Path("out/load_curve"))
    return parser.parse_args(argv)


def environment(args, label: str) -> dict[str, str]:
    return {**os.environ, "DJANGO_DEBUG": "0", "DJANGO_SECURE_HTTPS": "0", "DJANGO_SECRET_KEY": "load-curve-" * 4,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DATABASE_URL": f"{args.postgres}/shaping_curve_{label}",
            "REDIS_URL": args.redis, "SHAPING_LAB_VAR_DIR": str(args.out / f"var-{label}")}


def setup(args, label: str, tree: Path, env: dict[str, str]) -> None:
    database = f"shaping_curve_{label}"
    for sql in (f"DROP DATABASE IF EXISTS {database}", f"CREATE DATABASE {database}"):
        subprocess.run(["psql", f"{args.postgres}/postgres", "-qc", sql], check=True)
    subprocess.run(["redis-cli", "-u", args.redis, "FLUSHDB"], check=True, stdout=subprocess.DEVNULL)
    for command in (["migrate", "-v0"], ["collectstatic", "--noinput", "-v0"], ["seed_demo"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=tree, env=env, check=True,
                       stdout=subprocess.DEVNULL)


def start_server(args, tree: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "webapp.serve", "--workers", str(args.workers),
                               "--bind", f"127.0.0.1:{PORT}", "--no-access-log"],
                              cwd=tree, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
            time.sleep(3)  # the workers import torch after the socket is bound
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"the server of {tree} did not start; see {log}")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def point(args, label: str, tree: Path, env: dict[str, str], participants: int) -> dict:
    folder = args.out / f"{label}-{participants}"
    folder.mkdir(parents=True, exist_ok=True)
    server = start_server(args, tree, env, folder / "server.log")
    try:
        load = subprocess.Popen([sys.executable, str(REPO / "experiments" / "load_test.py"),
                                 "--base-url", f"http://127.0.0.1:{PORT}", "--study", "demo-bandit",
                                 "--participants", str(participants), "--rate", "1",
                                 "--ramp", str(participants / JOINS_PER_S), "--duration", str(args.duration),
                                 "--out", str(folder)], env=env, stdout=(folder / "stdout.txt").open("w"))
        cpu = cpu_during_steady_play(server, load, participants, args.duration)
        if load.wait() != 0:
            raise RuntimeError(f"the load test failed; see {folder / 'stdout.txt'}")
    finally:
        stop_server(server)
    metrics = json.loads((folder / "metrics.json").read_text())
    steady, database = metrics["latency_ms_steady"], metrics.get("database") or {}
    return {"participants": participants, "moves_per_s": metrics["moves_per_second_steady"],
            "p50": steady["p50"], "p95": steady["p95"], "p99": steady["p99"], "n": steady["n"],
            "errors": sum((metrics["errors"] or {}).values()),
            "disconnects": sum((metrics["disconnects"] or {}).values()), "lost": database.get("lost"),
            "duplicated": database.get("duplicated"), "all_joined_after_s": metrics["all_joined_after_s"],
            "cpu_ms_per_move": {name: round(seconds * 1000 / (metrics["moves_per_second_steady"] * cpu["seconds"]), 2)
                                for name, seconds in cpu["cpu_seconds"].items()}}


def cpu_during_steady_play(server: subprocess.Popen, load: subprocess.Popen, participants: int,
                           duration: float) -> dict:
    """CPU seconds used by each part (the server's workers, PostgreSQL, Redis, the load generator)
    over a window of the steady play: from 5 s after the joins should have finished to 5 s before
    the end. Read from /proc, so Linux only. Where the joins fall behind (an overloaded server),
    the window holds some of them too."""
    time.sleep(participants / JOINS_PER_S + 5)
    groups = {"server": lambda: _children(server.pid), "postgres": lambda: _pids("postgres"),
              "redis": lambda: _pids("redis-server"), "load_generator": lambda: [load.pid]}
    before, started = {name: _cpu_seconds(pids()) for name, pids in groups.items()}, time.monotonic()
    time.sleep(max(duration - 10, 1))
    after, seconds = {name: _cpu_seconds(pids()) for name, pids in groups.items()}, time.monotonic() - started
    return {"seconds": seconds, "cpu_seconds": {name: after[name] - before[name] for name in groups}}


def _children(pid: int) -> list[int]:
    return [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]


def _pids(name: str) -> list[int]:
    return [int(p) for p in subprocess.run(["pgrep", name], capture_output=True, text=True).stdout.split()]


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (those still running)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def table(results: dict[str, list[dict]]) -> str:
    lines = ["| server | participants × 1 move/s | moves/s acknowledged | p50 ms | p95 ms | p99 ms | errors "
             "| disconnects | lost | duplicated | CPU ms per move: server / PostgreSQL / load generator |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, points in results.items():
        for p in points:
            cpu = p["cpu_ms_per_move"]
            lines.append(f"| {label} | {p['participants']} | {p['moves_per_s']} | {p['p50']} | {p['p95']} | "
                         f"{p['p99']} | {p['errors']} | {p['disconnects']} | {p['lost']} | {p['duplicated']} | "
                         f"{cpu['server']} / {cpu['postgres']} / {cpu['load_generator']} |")
    return "\n".join(lines)


def plot(results: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (latency, throughput) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (label, points) in enumerate(results.items()):
        x, color = [p["participants"] for p in points], f"C{i}"  # one colour per tree
        for key, style in (("p50", ":"), ("p99", "-")):
            latency.plot(x, [p[key] for p in points], style, color=color, marker="o", label=f"{label} {key}")
        throughput.plot(x, [p["moves_per_s"] for p in points], color=color, marker="o", label=label)
    latency.axhline(100, color="grey", lw=0.6)
    latency.set(xlabel="participants × 1 move/s", ylabel="choice → result (ms, steady part)", yscale="log",
                title="latency")
    throughput.plot(x, x, color="grey", lw=0.6, label="offered")
    throughput.set(xlabel="participants × 1 move/s", ylabel="moves acknowledged per second", title="throughput")
    latency.legend(fontsize=8)
    throughput.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    args = parse_args(argv)
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    config = {"trees": {label: str(tree) for label, tree in args.tree}, "participants": args.participants,
              "workers": args.workers, "duration_s": args.duration, "joins_per_s": JOINS_PER_S,
              "python": platform.python_version(), "cpus": os.cpu_count(),
              "commits": {label: subprocess.run(["git", "rev-parse", "HEAD"], cwd=tree, capture_output=True,
                                                text=True).stdout.strip() for label, tree in args.tree}}
    (args.out / "config.json").write_text(json.dumps(config, indent=2))
    results: dict[str, list[dict]] = {}
    for label, tree in args.tree:
        env = environment(args, label)
        setup(args, label, tree, env)
        results[label] = []
        for participants in args.participants:
            results[label].append(point(args, label, tree, env, participants))
            print(json.dumps({"tree": label, **results[label][-1]}), flush=True)
            (args.out / "metrics.json").write_text(json.dumps(results, indent=2))
    (args.out / "table.md").write_text(table(results) + "\n")
    plot(results, args.out / "load_curve.png")
    print(table(results))
    return results


if __name__ == "__main__":
    main()
