"""Helpers shared by the tests: small studies of every game, participants at any step, the
live-play websocket through the real ASGI application, a real daphne server (LiveServer), and the
experiment scripts loaded as modules."""

import importlib.util
import itertools
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

from channels.testing import WebsocketCommunicator

# Small games so whole games finish in milliseconds.
SMALL_PARAMS = {
    "ipd": {"rounds": 5},
    "bandit": {"trials": 12, "rewards_per_option": 3},
    "gonogo": {"trials": 12, "nogo_trials": 3},
    "trust": {"rounds": 4},
}
ADVERSARY = {"ipd": "tit_for_tat", "bandit": "random_schedule", "gonogo": "random_schedule",
             "trust": "random_repayment"}
GAMES = list(SMALL_PARAMS)

_slugs = itertools.count()

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


def load_experiment(name: str):
    """experiments/<name>.py as a module: the scripts are run by path, not a package."""
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import would: dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def make_study(game="ipd", params=None, conditions=None, status="live", cap=None, **fields):
    """A study with conditions [(name, adversary, params, weight)], launched unless status='draft'."""
    from webapp.studies.models import Condition, Study
    from webapp.studies.services import study_set_status

    study = Study(name=f"Test {game}", slug=f"test-{game}-{next(_slugs)}", game=game,
                  game_params=SMALL_PARAMS[game] if params is None else params,
                  participant_cap_per_condition=cap, completion_code="CODE-123", **fields)
    study.full_clean()
    study.save()
    for name, adversary, adversary_params, weight in conditions or [("main", ADVERSARY[game], {}, 1)]:
        condition = Condition(study=study, name=name, adversary=adversary, adversary_params=adversary_params,
                              weight=weight)
        condition.full_clean()
        condition.save()
    if status in ("live", "paused", "closed"):
        study_set_status(study=study, action="launch")
    if status in ("paused", "closed"):
        study_set_status(study=study, action=status.replace("paused", "pause").replace("closed", "close"))
    study.refresh_from_db()
    return study


def make_player(study, external_id=""):
    """A participant who has consented and passed the comprehension check."""
    from webapp.studies.services import (ExternalIds, participant_answer_comprehension, participant_consent,
                                         participant_join)

    participant, _ = participant_join(study=study, external=ExternalIds(participant=external_id))
    participant_consent(participant=participant, agreed=True)
    answers = {i: q["answer"] for i, q in enumerate(study.comprehension_questions)}
    assert participant_answer_comprehension(participant=participant, answers=answers) == []
    participant.refresh_from_db()
    return participant


def scripted_choice(game: str, trial: int) -> dict:
    """A deterministic, varied participant choice for each game (a choice message's fields)."""
    if game == "ipd":
        return {"choice": "D" if trial % 3 == 2 else "C", "rt_ms": 400.0 + trial}
    if game == "bandit":
        return {"choice": f"option{trial % 2}", "rt_ms": 500.0}
    if game == "gonogo":
        return {"choice": "respond", "rt_ms": 300.0} if trial % 2 else {"choice": "withhold", "rt_ms": None}
    return {"choice": str((trial * 7) % 21), "rt_ms": 900.0}


async def connect(token: str, expect_state: bool = True, client: str = "127.0.0.1"):
    """Open the play websocket the way a browser does (with an Origin header), from the address
    `client` (daphne puts the client's address and port in the scope)."""
    from webapp.asgi import application

    async def from_client(scope, receive, send):
        await application({**scope, "client": [client, 50000]}, receive, send)

    communicator = WebsocketCommunicator(from_client, f"/ws/play/{token}/",
                                         headers=[(b"origin", b"http://testserver")])
    connected, _ = await communicator.connect()
    assert connected
    state = await communicator.receive_json_from(timeout=5) if expect_state else None
    return communicator, state


async def choose(communicator, trial: int, choice, rt_ms=None):
    await communicator.send_json_to({"type": "choice", "trial": trial, "choice": choice, "rt_ms": rt_ms})
    return await communicator.receive_json_from(timeout=5)


# --- a real server ----------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
_PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """daphne on a free 127.0.0.1 port, in a subprocess, against its own throw-away SQLite database
    in `directory` (whatever DATABASE_URL / REDIS_URL the test run uses: the server and its
    `manage.py` commands never see them). Use as a context manager, or start() and stop():

        with LiveServer(tmp_path) as server:      # migrated, serving
            server.manage_ok("shell", "-c", SETUP)
            httpx.get(server.base_url + "/s/slug/")

    or `LiveServer(tmp_path).start(setup=SETUP)` (quicker: the setup runs while daphne starts).

    `LiveServer(tmp_path, workers=2, database_url=..., redis_url=...)` is the production server
    instead (`python -m webapp.serve`, DEBUG off, collected static files) on those services;
    `worker_pids()` lists its workers.
    """

    def __init__(self, directory: Path, *, workers: int | None = None, database_url: str | None = None,
                 redis_url: str | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.workers = workers
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", *_PROXY_VARS)}
        self.database_path = self.directory / "server.sqlite3"
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        if workers:
            self.env.update({"DJANGO_DEBUG": "0", "DJANGO_SECURE_HTTPS": "0", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
                             "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                             "DJANGO_STATIC_ROOT": str(self.directory / "static")})
        self.env.update({"DATABASE_URL": database_url or f"sqlite:///{self.database_path}",
                         "SHAPING_LAB_VAR_DIR": str(self.directory / "var"),
                         "DJANGO_SETTINGS_MODULE": "webapp.settings", "DJANGO_LOG_LEVEL": "WARNING",
                         "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                         "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"})
        self.log_path = self.directory / "daphne.log"
        self.setup_output = ""
        self.port = None
        self.process = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def manage_ok(self, *args: str, timeout: float = 60) -> str:
        """Run a manage.py command that must succeed; its stdout."""
        done = self.manage(*args, timeout=timeout)
        assert done.returncode == 0, f"manage.py {args[0]}:\n" + done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def start(self, setup: str = "", timeout: float = 60) -> "LiveServer":
        """Start daphne, and meanwhile migrate the database and run the `setup` script (Python for
        `manage.py shell -c`, in the same process as the migration); its stdout is in
        `setup_output`. Returns once the server answers."""
        import httpx

        self.port = free_port()
        if self.workers:
            # The workers' WhiteNoise indexes the collected files when it starts: collect first.
            self.manage_ok("collectstatic", "--noinput", "--verbosity", "0", timeout=120)
            command = ["-m", "webapp.serve", "--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}"]
        else:
            command = ["-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "webapp.asgi:application"]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)
        try:
            self.setup_output = self.manage_ok(
                "shell", "-c", "from django.core.management import call_command\n"
                               "call_command('migrate', interactive=False, verbosity=0)\n" + setup, timeout=120)
            deadline = time.monotonic() + timeout
            while True:
                if self.process.poll() is not None:
                    raise AssertionError("daphne exited:\n" + self.log()[-2000:])
                try:
                    httpx.get(f"{self.base_url}/", timeout=2, trust_env=False)
                    return self
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise AssertionError("daphne did not answer:\n" + self.log()[-2000:]) from None
                    time.sleep(0.2)
        except BaseException:
            self.stop()
            raise

    def worker_pids(self) -> list[int]:
        """The production server's worker processes (children of the supervisor), by pid."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return sorted(int(child) for child in children)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()  # by its pid
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        self.process = None

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def random_surrogate(game, hidden_size=4, seed=0):
    """An untrained SurrogateNet with weights three times the default init, so its predictions
    vary a lot between histories (what replay and equivalence tests need)."""
    import torch

    from shaping_core.surrogate.model import SurrogateNet

    torch.manual_seed(seed)
    net = SurrogateNet(game, hidden_size)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.mul_(3)
    return net.eval()
