from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from shaping_core.data.schema import FORMATS, table_bytes
from webapp.research.export import trials_frame
from webapp.studies.models import Study
from webapp.studies.services import participants_end_due


def study_by_slug(slug: str) -> Study:
    study = Study.objects.filter(slug=slug).first()
    if study is None:
        known = ", ".join(Study.objects.values_list("slug", flat=True)) or "none"
        raise CommandError(f"no study with slug {slug!r}; known studies: {known}")
    return study


class Command(BaseCommand):
    help = "Export a study's trials, one row per trial (schema: docs/data.md)."

    def add_arguments(self, parser):
        parser.add_argument("--study", required=True, help="the study's slug")
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("--output", required=True, help="file to write")
        parser.add_argument("--include-external-ids", action="store_true",
                            help="add PROLIFIC_PID/STUDY_ID/SESSION_ID (identifying: handle with care)")
        parser.add_argument("--include-test", action="store_true",
                            help="add test participants (researchers' previews) and a participant_is_test column")

    def handle(self, *args, study, format, output, include_external_ids, include_test, **options):
        found = study_by_slug(study)
        path = Path(output)
        if not path.parent.is_dir():
            raise CommandError(f"the folder {path.parent} does not exist")
        participants_end_due(study=found, now=timezone.now())  # so that participant_status is current
        frame = trials_frame(study=found, include_external_ids=include_external_ids, include_test=include_test)
        path.write_bytes(table_bytes(frame, format))
        self.stdout.write(f"wrote {len(frame)} trials of {frame['participant'].nunique()} participants to {path}")
