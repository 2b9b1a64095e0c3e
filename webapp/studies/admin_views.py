"""Staff-only pages beside the admin: the study monitor and trial downloads."""

import io

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from .export import FORMATS, trials_frame, write_trials
from .models import Study
from .selectors import study_monitor
from .services import study_set_status

CONTENT_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}


@staff_member_required
def export_download(request, slug, fmt):
    if fmt not in FORMATS:
        raise Http404(f"unknown export format {fmt!r}")
    study = get_object_or_404(Study, slug=slug)
    return trials_response(study, fmt, include_external_ids=request.GET.get("external_ids") == "1")


def trials_response(study: Study, fmt: str, include_external_ids: bool = False) -> HttpResponse:
    buffer = io.BytesIO()
    write_trials(trials_frame(study=study, include_external_ids=include_external_ids), buffer, fmt)
    response = HttpResponse(buffer.getvalue(), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-trials.{fmt}"'
    return response


def monitor(request, study_id):
    """Participants by condition and status, trials stored, drop-outs (wrapped by admin_view)."""
    study = get_object_or_404(Study, pk=study_id)
    summaries = study_monitor(study=study)
    context = {
        **admin.site.each_context(request),
        "title": f"Monitor: {study.name}",
        "study": study,
        "summaries": summaries,
        "statuses": [s for s in summaries[0].by_status] if summaries else [],
        "totals": {"participants": sum(s.total for s in summaries), "trials": sum(s.trials for s in summaries),
                   "dropouts": sum(s.dropouts for s in summaries)},
        "join_url": request.build_absolute_uri(reverse("study-join", args=[study.slug])),
        "opts": Study._meta,
    }
    return TemplateResponse(request, "admin/studies/study/monitor.html", context)


@require_POST
def change_status(request, study_id, action):
    study = get_object_or_404(Study, pk=study_id)
    if action not in ("launch", "pause", "close"):
        raise Http404(action)
    try:
        study_set_status(study=study, action=action)
        messages.success(request, f"{study.name}: {action} done.")
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
    return redirect("admin:studies_study_change", study_id)
