from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from webapp.research.export import bonus_file, bundle_files, zip_bytes
from webapp.studies.services import participants_end_due

from .export_trials import study_by_slug


class Command(BaseCommand):
    help = ("Export everything about a study (trials in CSV and Parquet, participants, Prolific's bulk-bonus "
            "file, the study's settings, and the data dictionary docs/data.md) into a folder or a .zip.")

    def add_arguments(self, parser):
        parser.add_argument("--study", required=True, help="the study's slug")
        parser.add_argument("--out", required=True,
                            help="a .zip file to write, or else a folder to write the files into (created if missing)")
        parser.add_argument("--include-external-ids", action="store_true",
                            help="add PROLIFIC_PID/STUDY_ID/SESSION_ID (identifying: handle with care) and the "
                                 "bonus file prolific_bonus.csv, which is nothing but those ids")
        parser.add_argument("--include-test", action="store_true",
                            help="add test participants (researchers' previews), marked in a column of their own")

    def handle(self, *args, study, out, include_external_ids, include_test, **options):
        found = study_by_slug(study)
        out = Path(out)
        if out.suffix.lower() == ".zip" and not out.parent.is_dir():
            raise CommandError(f"the folder {out.parent} does not exist")
        now = timezone.now()
        participants_end_due(study=found, now=now)  # so that the exported statuses are current
        files = bundle_files(study=found, exported_at=now, include_test=include_test,
                             include_external_ids=include_external_ids)
        try:
            if out.suffix.lower() == ".zip":
                out.write_bytes(zip_bytes(files))
            else:
                out.mkdir(parents=True, exist_ok=True)
                for name, data in files.items():
                    (out / name).write_bytes(data)
        except OSError as error:
            raise CommandError(f"cannot write the export to {out}: {error.strerror or error}") from None
        self.stdout.write(f"wrote {', '.join(files)} to {out}")
        if include_external_ids:
            bonus = bonus_file(study=found)
            self.stdout.write(f"prolific_bonus.csv: {len(bonus.payments)} bonuses, {bonus.total} {found.currency} "
                              "in all")
            if bonus.unusable_ids:
                self.stderr.write(f"left out of prolific_bonus.csv, their external id is not a plain id (pay them "
                                  f"by hand; see participants.csv): {', '.join(bonus.unusable_ids)}")
        else:
            self.stdout.write("no prolific_bonus.csv: it is made of external ids; add --include-external-ids")
