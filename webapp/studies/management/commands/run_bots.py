"""Run bots (simulated participants, webapp/bots) through a live study on a running server.

    python manage.py run_bots --study demo-ipd --count 20 --learner q_learning --concurrency 4

The server must already be serving (`make run`, or daphne); the bots use its public pages and
websocket exactly as browsers do. Ends with a summary: completed, failed with reasons, and mean
participant earnings per condition. Exits with an error when any bot failed.
"""

import asyncio
import json

import httpx
from django.core.management.base import BaseCommand, CommandError

from shaping_core.params import ParamsError
from webapp.bots import learner_factory, run_bots
from webapp.studies.selectors import participant_conditions

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--study", required=True, help="the study's slug (its link is /s/SLUG/)")
        parser.add_argument("--count", type=int, default=1, help="how many bots take part")
        parser.add_argument("--learner", required=True,
                            help="the synthetic learner that chooses (shaping_core.learners.LEARNERS)")
        parser.add_argument("--learner-params", default=None,
                            help='the learner\'s parameters as JSON, e.g. \'{"alpha": [0.1, 0.5]}\'')
        parser.add_argument("--concurrency", type=int, default=4, help="bots playing at the same time")
        parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help="where the server answers")
        parser.add_argument("--seed", type=int, default=None, help="the run's seed (default: random, reported)")
        parser.add_argument("--label-prefix", default=None,
                            help="join bot i as ?participant_label=PREFIX<i>, so a rerun resumes them")

    def handle(self, *args, study, count, learner, learner_params, concurrency, base_url, seed,
               label_prefix, **options):
        if count < 1 or concurrency < 1:
            raise CommandError("--count and --concurrency must be at least 1")
        try:
            params = json.loads(learner_params) if learner_params else None
        except json.JSONDecodeError as error:
            raise CommandError(f"--learner-params is not valid JSON: {error}") from None
        if params is not None and not isinstance(params, dict):
            raise CommandError("--learner-params must be a JSON object")
        try:
            learner_factory(learner, params)
        except ParamsError as error:
            raise CommandError(str(error)) from None
        base_url = base_url.rstrip("/")
        _check_server(base_url)

        summary = asyncio.run(run_bots(base_url, study, learner, count, concurrency, seed, params,
                                       label_prefix=label_prefix, progress=True))
        summary.label_conditions(participant_conditions(tokens=summary.tokens))
        self.stdout.write(summary.report())
        if summary.failed:
            raise CommandError(f"{len(summary.failed)} of {count} bots failed")


def _check_server(base_url: str) -> None:
    """Fail fast, with what to do, when nothing answers at base_url (any HTTP answer will do)."""
    try:
        httpx.get(f"{base_url}/", timeout=5, trust_env=False)
    except httpx.HTTPError as error:
        raise CommandError(f"nothing answers at {base_url} ({type(error).__name__}): start the server "
                           f"first (`make run`, or `.venv/bin/daphne -b HOST -p PORT webapp.asgi:application`) "
                           f"or pass --base-url") from None
