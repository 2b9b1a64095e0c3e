"""Register a policy checkpoint (.pt) so that study conditions can play it as policy:NAME."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from webapp.policies.services import PolicyRegistrationError, policy_register


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("path", help="the checkpoint file, e.g. out/adversary/A.pt")
        parser.add_argument("--name", required=True, help="letters, digits, '-' and '_'")
        parser.add_argument("--description", default="")
        parser.add_argument("--replace", action="store_true",
                            help="overwrite a policy of the same name that no participant has played")

    def handle(self, *args, path, name, description, replace, **options):
        path = Path(path)
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            policy = policy_register(name=name, data=path.read_bytes(), description=description, replace=replace)
        except PolicyRegistrationError as error:
            raise CommandError(f"{path}: {error}") from None
        self.stdout.write(describe(policy))


def describe(policy) -> str:
    """One line a researcher can check against the training run's output."""
    return (f"registered {policy.name} ({policy.adversary}): game {policy.game}, kind {policy.kind}, "
            f"objective {policy.objective or '-'}, sha256 {policy.sha256[:12]}, "
            f"metrics {json.dumps(policy.metrics, sort_keys=True)}")
