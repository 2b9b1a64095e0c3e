"""Staff-only downloads of a study's data (docs/data.md): the trials, the participants, Prolific's
bulk-bonus file, and all of them with the data dictionary in one zip.

A download needs the `studies.export_study` permission on the study: its owners and collaborators
have it, and superusers (webapp/studies/rules.py). Query flags: `?include_test=1` adds test
participants (researchers' previews), `?external_ids=1` the recruitment platform's ids.
"""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_safe

from shaping_core.data.schema import FORMATS, table_bytes
from webapp.studies.models import Study
from webapp.studies.services import participants_end_due

from .export import bonus_file, bundle_files, participants_frame, trials_frame, zip_bytes

CONTENT_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet", "zip": "application/zip"}


def _flag(request, name: str) -> bool:
    return request.GET.get(name) == "1"


def _ready_to_export(request, study: Study) -> Study:
    """The study, once the user is known to be allowed to export it and whoever is due has been
    timed out and ended, so that the export's statuses are those of now."""
    if not request.user.has_perm("studies.export_study", study):
        raise PermissionDenied(f"You may not export {study.name!r}: only its owners and collaborators may. "
                               "Ask an owner to add you as a collaborator.")
    participants_end_due(study=study, now=timezone.now())
    return study


def _attachment(data: bytes, fmt: str, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def trials_response(request, study: Study, fmt: str, *, include_external_ids: bool = False,
                    include_test: bool = False) -> HttpResponse:
    """The trial table as a download, for the download URL and the admin's export action."""
    _ready_to_export(request, study)
    frame = trials_frame(study=study, include_external_ids=include_external_ids, include_test=include_test)
    return _attachment(table_bytes(frame, fmt), fmt, f"{study.slug}-trials.{fmt}")


@staff_member_required
@require_safe
def trials_download(request, slug, fmt):
    if fmt not in FORMATS:
        raise Http404(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    study = get_object_or_404(Study, slug=slug)
    return trials_response(request, study, fmt, include_external_ids=_flag(request, "external_ids"),
                           include_test=_flag(request, "include_test"))


@staff_member_required
@require_safe
def participants_download(request, slug):
    study = _ready_to_export(request, get_object_or_404(Study, slug=slug))
    frame = participants_frame(study=study, include_external_ids=_flag(request, "external_ids"),
                               include_test=_flag(request, "include_test"))
    return _attachment(table_bytes(frame, "csv"), "csv", f"{study.slug}-participants.csv")


@staff_member_required
@require_safe
def bonus_download(request, slug):
    """Prolific's bulk-bonus file; never holds test participants."""
    study = _ready_to_export(request, get_object_or_404(Study, slug=slug))
    return _attachment(bonus_file(study=study).csv(), "csv", f"{study.slug}-prolific-bonus.csv")


@staff_member_required
@require_safe
def bundle_download(request, slug):
    study = _ready_to_export(request, get_object_or_404(Study, slug=slug))
    files = bundle_files(study=study, exported_at=timezone.now(), include_test=_flag(request, "include_test"),
                         include_external_ids=_flag(request, "external_ids"))
    return _attachment(zip_bytes(files), "zip", f"{study.slug}-export.zip")
