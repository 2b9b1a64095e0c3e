from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from webapp.research.report import SPREAD, metrics, study_report, write_report
from webapp.studies.models import Participant, Study
from webapp.studies.selectors import study_monitor
from webapp.studies.services import participants_end_due


class Command(BaseCommand):
    help = ("Write a study's figures per condition (choice rates by trial, earnings), report.csv (exactly "
            "the plotted numbers) and metrics.json into a folder. Definitions: webapp/research/report.py.")

    def add_arguments(self, parser):
        parser.add_argument("--study", required=True, help="the study's slug")
        parser.add_argument("--out", required=True, help="folder to write into (created if missing)")
        parser.add_argument("--include-test", action="store_true",
                            help="count test participants (researchers' previews) too")

    def handle(self, *args, study, out, include_test=False, **options):
        found = Study.objects.filter(slug=study).first()
        if found is None:
            known = ", ".join(Study.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"no study with slug {study!r}; known studies: {known}")
        participants_end_due(study=found, now=timezone.now())  # so that the statuses reported are current
        summaries = study_monitor(study=found)
        report = study_report(study=found, conditions=[s.name for s in summaries], include_test=include_test)
        if report.per_participant.empty:
            joined = sum(s.total for s in summaries)
            raise CommandError(f"study {study!r} has no completed trials yet ({joined} participants joined): "
                               "nothing to report, nothing written")
        folder = Path(out)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            value = {s.label: s.value for s in Participant.Status}
            participants = {s.name: {value[label]: n for label, n in s.by_status.items()} | {"total": s.total}
                            for s in summaries}
            written = write_report(report, folder, metrics(report, study=found.slug, participants=participants))
        except OSError as error:
            raise CommandError(f"cannot write the report into {folder}: {error.strerror or error}") from None
        self.stdout.write(f"{study}: {len(report.per_participant)} participants with trials; spread: {SPREAD}")
        for path in written:
            self.stdout.write(f"wrote {path}")
