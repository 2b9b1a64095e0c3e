from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from webapp.studies.export import FORMATS, trials_frame, write_trials
from webapp.studies.models import Study


class Command(BaseCommand):
    help = "Export a study's trials, one row per trial (schema: docs/data.md)."

    def add_arguments(self, parser):
        parser.add_argument("--study", required=True, help="the study's slug")
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("--output", required=True, help="file to write")
        parser.add_argument("--include-external-ids", action="store_true",
                            help="add PROLIFIC_PID/STUDY_ID/SESSION_ID (identifying: handle with care)")

    def handle(self, *args, study, format, output, include_external_ids, **options):
        found = Study.objects.filter(slug=study).first()
        if found is None:
            known = ", ".join(Study.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"no study with slug {study!r}; known studies: {known}")
        path = Path(output)
        if not path.parent.is_dir():
            raise CommandError(f"the folder {path.parent} does not exist")
        frame = trials_frame(study=found, include_external_ids=include_external_ids)
        write_trials(frame, path, format)
        self.stdout.write(f"wrote {len(frame)} trials of {frame['participant'].nunique()} participants to {path}")
