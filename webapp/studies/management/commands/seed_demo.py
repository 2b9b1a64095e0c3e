"""Create the demo admin account and one live demo study per game (idempotent).

The default policy checkpoints (shaping_core/checkpoints/defaults/<game>-<objective>.pt) are
registered first, and a new demo study gets one condition per checkpoint of its game, named by the
objective, beside the classic ones.
"""

import os

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.db import transaction

from shaping_core.games import GAMES
from webapp.policies.services import DefaultPolicyResult, default_policies_dir, policy_register_defaults
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
        checkpoints = policy_register_defaults()
        self.stdout.write(f"default policy checkpoints in {default_policies_dir()}: {len(checkpoints)}")
        for result in checkpoints:
            self.stdout.write(f"  {result.summary()}")
        for game in GAMES:
            study = self._demo_study(game, [c for c in checkpoints if c.game == game and c.policy is not None])
            self.stdout.write(f"  {study.name:<45} {base_url}/s/{study.slug}/")
        self.stdout.write(f"\nAdmin: {base_url}/admin/  login: {username} / {password}")

    @transaction.atomic
    def _demo_study(self, game: str, checkpoints: list[DefaultPolicyResult]) -> Study:
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
            for checkpoint in checkpoints:
                condition = Condition(study=study, name=checkpoint.objective, adversary=checkpoint.policy.adversary)
                try:
                    condition.full_clean()
                except ValidationError as error:  # e.g. trained for other game parameters than the demo's
                    self.stderr.write(f"  {slug}: no condition {checkpoint.objective!r}: {'; '.join(error.messages)}")
                    continue
                condition.save()
        if study.status in (Study.Status.DRAFT, Study.Status.PAUSED):
            study_set_status(study=study, action="launch")
        return study
