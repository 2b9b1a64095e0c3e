"""Register the checkpoints shipped in shaping_core/checkpoints/defaults/ (idempotent).

Each <game>-<objective>.pt becomes the registered policy default-<game>-<objective>. The folder is
settings.SHAPING_LAB_DEFAULT_POLICIES_DIR when set.
"""

from pathlib import Path

from django.core.management.base import BaseCommand

from webapp.policies.services import default_policies_dir, policy_register_defaults


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--directory", type=Path, default=None,
                            help="folder of <game>-<objective>.pt files (default: the shipped defaults)")

    def handle(self, *args, directory, **options):
        directory = directory or default_policies_dir()
        results = policy_register_defaults(directory=directory)
        if not results:
            self.stdout.write(f"no default checkpoints in {directory}")
        for result in results:
            self.stdout.write(f"  {result.summary()}")

