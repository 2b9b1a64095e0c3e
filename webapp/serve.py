"""The production server: several daphne workers sharing one listening socket.

    python -m webapp.serve --workers 2 --bind 127.0.0.1:8000 [--proxy-headers] [--no-access-log]

This process (the supervisor) binds the port once and starts the workers, which all accept on that
one socket; the kernel hands each new connection to one of them (gunicorn's pre-fork model, with
daphne as the worker). Connections arriving while a worker restarts wait in the socket's backlog
instead of being refused.

A worker that dies is restarted. The websockets it held drop, their pages reconnect to a live
worker, and the protocol resumes them at the exact trial (docs/protocol.md, "Guarantees").
SIGTERM or SIGINT stops every worker and then the supervisor.

Each worker runs torch on one thread: an adversary's step is a tiny GRU, and worker processes, not
torch threads, are what should share the cores. Its access log never writes participant tokens.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

RESTART_DELAY_S = 1.0
# A worker that dies this soon after starting is failing to start (a bad setting, say), not
# crashing under load: after this many such deaths in a row the supervisor gives up.
EARLY_DEATH_S, MAX_EARLY_DEATHS = 5.0, 5


def _bind_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, e.g. 127.0.0.1:8000, got {text!r}")
    return host.strip("[]"), int(port)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m webapp.serve", description=__doc__.split("\n\n")[0])
    # Two per core: a worker waiting on PostgreSQL leaves its core to another (docs/deploy.md, Load:
    # on 2 cores, 4 workers served 150 participants at p50 33 ms where 2 workers were saturated).
    parser.add_argument("--workers", type=_positive, default=2 * (os.cpu_count() or 1),
                        help="worker processes (default: two per CPU core)")
    parser.add_argument("--bind", type=_bind_address, default=("127.0.0.1", 8000), metavar="HOST:PORT")
    parser.add_argument("--proxy-headers", action="store_true",
                        help="take the client's address and scheme from X-Forwarded-For and "
                             "X-Forwarded-Proto (only behind the reverse proxy of docs/deploy.md)")
    parser.add_argument("--no-access-log", action="store_true", help="log no requests")
    parser.add_argument("--worker-fd", type=int, help=argparse.SUPPRESS)  # set by the supervisor
    return parser.parse_args(argv)


# --- the supervisor ---------------------------------------------------------------------------


class Supervisor:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.listener = _listen(*args.bind)
        self.workers: dict[int, subprocess.Popen] = {}  # slot -> process
        self.started_at: dict[int, float] = {}
        self.early_deaths = 0
        self.stopping = False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        host, port = self.listener.getsockname()[:2]
        _log(f"listening on http://{host}:{port}/ with {self.args.workers} workers")
        for slot in range(self.args.workers):
            self._start(slot)
        while not self.stopping:
            time.sleep(0.2)
            for slot, process in list(self.workers.items()):
                if process.poll() is None or self.stopping:
                    continue
                lived = time.monotonic() - self.started_at[slot]
                _log(f"worker {slot} (pid {process.pid}) exited with {process.returncode} after {lived:.1f} s")
                self.early_deaths = self.early_deaths + 1 if lived < EARLY_DEATH_S else 0
                if self.early_deaths >= MAX_EARLY_DEATHS:
                    _log(f"{MAX_EARLY_DEATHS} workers in a row died on starting: giving up")
                    self._stop()
                    return 1
                time.sleep(RESTART_DELAY_S)
                self._start(slot)
        return 0

    def _start(self, slot: int) -> None:
        fd = self.listener.fileno()
        command = [sys.executable, "-m", "webapp.serve", "--worker-fd", str(fd)]
        command += ["--proxy-headers"] * self.args.proxy_headers + ["--no-access-log"] * self.args.no_access_log
        # One torch/OpenMP thread per worker: the workers share the cores.
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        process = subprocess.Popen(command, pass_fds=(fd,), env=env)
        self.workers[slot], self.started_at[slot] = process, time.monotonic()
        _log(f"worker {slot} started (pid {process.pid})")

    def _stop(self, *_signal) -> None:
        if self.stopping:
            return
        self.stopping = True
        for process in self.workers.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 10
        for process in self.workers.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        _log("stopped")


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(socket.SOMAXCONN)  # a burst of joins waits here while workers catch up
    listener.set_inheritable(True)
    return listener


def _log(message: str) -> None:
    print(f"[serve {os.getpid()}] {message}", file=sys.stderr, flush=True)


# --- a worker ---------------------------------------------------------------------------------


def _die_with_the_supervisor() -> None:
    """Ask Linux to send this worker SIGTERM when the supervisor dies, however it dies, so that no
    orphaned worker keeps serving (or holding the port) on its own."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: stop the supervisor with SIGTERM, which stops its workers


def run_worker(args: argparse.Namespace) -> None:
    _die_with_the_supervisor()
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    from daphne.access import AccessLogGenerator
    from daphne.server import Server

    from webapp.asgi import application
    from webapp.logs import redact_tokens

    class RedactedAccessLog(AccessLogGenerator):
        def write_entry(self, host, date, request, *rest, **kwargs):
            super().write_entry(host, date, redact_tokens(request), *rest, **kwargs)

    Server(
        application=application,
        endpoints=[f"fd:fileno={args.worker_fd}"],
        action_logger=None if args.no_access_log else RedactedAccessLog(sys.stdout),
        proxy_forwarded_address_header="X-Forwarded-For" if args.proxy_headers else None,
        proxy_forwarded_port_header="X-Forwarded-Port" if args.proxy_headers else None,
        proxy_forwarded_proto_header="X-Forwarded-Proto" if args.proxy_headers else None,
        websocket_max_message_size=64 * 1024,  # the protocol's limit is 4 KiB; refuse far larger early
        server_name="shaping-lab",
    ).run()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker_fd is not None:
        run_worker(args)
        return 0
    try:
        return Supervisor(args).run()
    except OSError as error:
        print(f"serve: cannot listen on {args.bind[0]}:{args.bind[1]}: {error.strerror}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
