"""Create the demo admin account and one live demo study per game (idempotent)."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from shaping_core.games import GAMES
from webapp.studies.models import Condition, Study
from webapp.studies.services import study_set_status

DEMO_CONDITIONS = {
    "ipd": [("tit-for-tat", "tit_for_tat", {}), ("random", "random", {"p_cooperate": 0.5})],
    "bandit": [("random-schedule", "random_schedule", {})],
    "gonogo": [("random-schedule", "random_schedule", {})],
    "trust": [("random", "random_repayment", {}), ("half", "fixed_fraction", {"fraction": 0.5})],
}
DEMO_PARAMS = {"gonogo": {"trials": 350}}


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url, **options):
        username = os.environ.get("SHAPING_LAB_ADMIN_USER", "admin")
        password = os.environ.get("SHAPING_LAB_ADMIN_PASSWORD", "admin")
        User = get_user_model()
        if not User.objects.filter(username=username).exists():
            User.objects.create_superuser(username, f"{username}@example.org", password)
            self.stdout.write(f"created admin account {username!r}")
        for game in GAMES:
            study = self._demo_study(game)
            self.stdout.write(f"  {study.name:<45} {base_url}/s/{study.slug}/")
        self.stdout.write(f"\nAdmin: {base_url}/admin/  login: {username} / {password}")

    @transaction.atomic
    def _demo_study(self, game: str) -> Study:
        slug = f"demo-{game}"
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            study = Study(name=f"Demo: {GAMES[game].spec.label}", slug=slug, game=game,
                          game_params=DEMO_PARAMS.get(game, {}), completion_code="DEMO-COMPLETE")
            study.full_clean()
            study.save()
            for name, adversary, params in DEMO_CONDITIONS[game]:
                condition = Condition(study=study, name=name, adversary=adversary, adversary_params=params)
                condition.full_clean()
                condition.save()
        if study.status in (Study.Status.DRAFT, Study.Status.PAUSED):
            study_set_status(study=study, action="launch")
        return study
