"""Production mode: settings from the environment, `check --deploy`, `make run-prod`'s refusals and
the multi-worker server's command line. The server itself, killed workers included, is exercised
in tests/faults."""

import os
import secrets
import subprocess
import sys

import pytest

from helpers import ROOT
from webapp.logs import redact_tokens
from webapp.serve import parse_args

PRODUCTION = {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
              "DJANGO_ALLOWED_HOSTS": "lab.example.org", "DJANGO_SETTINGS_MODULE": "webapp.settings"}


def _run(command, env_overrides, drop=("DATABASE_URL", "REDIS_URL")):
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("DJANGO_")}
    env.update(env_overrides)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    done = _run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                {**PRODUCTION, "SHAPING_LAB_VAR_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_check_deploy_warns_when_https_is_switched_off(tmp_path):
    done = _run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                {**PRODUCTION, "DJANGO_SECURE_HTTPS": "0", "SHAPING_LAB_VAR_DIR": str(tmp_path)})
    assert done.returncode != 0
    assert "SESSION_COOKIE_SECURE" in done.stderr + done.stdout


def test_production_without_a_secret_key_refuses_to_start(tmp_path):
    production = {k: v for k, v in PRODUCTION.items() if k != "DJANGO_SECRET_KEY"}
    done = _run([sys.executable, "manage.py", "check"], {**production, "SHAPING_LAB_VAR_DIR": str(tmp_path)})
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in done.stderr


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"])
def test_make_run_prod_names_what_is_missing(missing):
    present = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "REDIS_URL": "redis://127.0.0.1:6379/0",
               "DJANGO_SECRET_KEY": "k" * 50, "DJANGO_ALLOWED_HOSTS": "lab.example.org"}
    present.pop(missing)
    done = _run(["make", "-s", "run-prod"], present, drop=("DATABASE_URL", "REDIS_URL", missing))
    assert done.returncode == 2
    assert f"set {missing}" in done.stderr


def test_log_lines_never_show_participant_tokens(caplog):
    import logging

    token = secrets.token_urlsafe(32)
    assert redact_tokens(f"GET /p/{token}/") == "GET /p/<token>/"
    assert redact_tokens(f"WSCONNECT /ws/play/{token}/") == "WSCONNECT /ws/play/<token>/"
    assert redact_tokens("GET /s/demo-ipd/?PROLIFIC_PID=abc") == "GET /s/demo-ipd/?PROLIFIC_PID=abc"
    # Django's request logger, through the filter that settings.LOGGING puts on the console.
    from webapp.logs import RedactTokens

    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "%s: %s",
                               ("Bad Request", f"/p/{token}/"), None)
    assert RedactTokens().filter(record)
    assert record.getMessage() == "Bad Request: /p/<token>/"


@pytest.mark.parametrize("argv, message", [
    (["--bind", "8000"], "expected HOST:PORT"),
    (["--bind", "127.0.0.1:99999"], "expected HOST:PORT"),
    (["--workers", "0"], "expected a positive integer"),
])
def test_serve_rejects_bad_arguments_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_serve_says_when_the_port_is_taken():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run([sys.executable, "-m", "webapp.serve", "--workers", "1", "--bind", f"127.0.0.1:{port}"], {})
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_the_redis_channel_layer_reads_for_longer_than_its_blocking_pop_waits():
    """Else an idle consumer's read races Redis's empty answer to the pop and the connection is
    torn down (close code 1011) every few idle seconds: redis-py 8 reads for 5 s by default, the
    same 5 s the layer's pop waits."""
    from channels_redis.core import RedisChannelLayer
    from channels_redis.utils import create_pool

    from webapp.settings import redis_channel_layer

    layer = RedisChannelLayer(**redis_channel_layer("redis://127.0.0.1:6379/0")["CONFIG"])
    read_timeout = create_pool(layer.hosts[0]).connection_kwargs["socket_timeout"]
    assert read_timeout is not None and read_timeout >= 2 * layer.brpop_timeout
