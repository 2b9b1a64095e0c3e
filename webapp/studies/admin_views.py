"""Staff-only pages beside the admin: the study monitor and trial downloads."""

import io

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from .export import FORMATS, trials_frame, write_trials
from .models import Study
from .report import EARNINGS_FIGURE, condition_figure, condition_png, earnings_png, study_report
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


def _totals(summaries) -> dict:
    return {"participants": sum(s.total for s in summaries), "trials": sum(s.trials for s in summaries),
            "dropouts": sum(s.dropouts for s in summaries)}


def monitor(request, study_id):
    """Participants by condition and status, trials stored, drop-outs, the per-condition summaries and
    figures (wrapped by admin_view); the page polls monitor_data to stay current."""
    study = get_object_or_404(Study, pk=study_id)
    summaries = study_monitor(study=study)
    report = study_report(study=study, conditions=[s.name for s in summaries])
    results = report.condition_summaries()
    context = {
        **admin.site.each_context(request),
        "title": f"Monitor: {study.name}",
        "study": study,
        "summaries": summaries,
        "statuses": [s for s in summaries[0].by_status] if summaries else [],
        "totals": _totals(summaries),
        "measures": report.measures,
        "results": [(s.name, results[s.name], condition_figure(s.name).removesuffix(".png"))
                    for s in summaries],
        "earnings_figure": EARNINGS_FIGURE.removesuffix(".png"),
        "join_url": request.build_absolute_uri(reverse("study-join", args=[study.slug])),
        "opts": Study._meta,
    }
    return TemplateResponse(request, "admin/studies/study/monitor.html", context)


def monitor_data(request, study_id):
    """The monitor's numbers as JSON, polled by the page (wrapped by admin_view: staff only, never cached)."""
    study = get_object_or_404(Study, pk=study_id)
    summaries = study_monitor(study=study)
    report = study_report(study=study, conditions=[s.name for s in summaries])
    results = report.condition_summaries()
    return JsonResponse({
        "study": study.slug, "status": study.get_status_display(), "totals": _totals(summaries),
        "measures": {m.name: m.label for m in report.measures},
        "conditions": [{"name": s.name, "adversary": s.adversary, "weight": s.weight, "by_status": s.by_status,
                        "total": s.total, "dropouts": s.dropouts, "trials": s.trials, "summary": results[s.name]}
                       for s in summaries],
    })


def monitor_figure(request, study_id, figure):
    """A PNG of the current data: `condition-<name>` (rates by trial) or `earnings` (wrapped by admin_view)."""
    study = get_object_or_404(Study, pk=study_id)
    report = study_report(study=study)
    names = {condition_figure(c).removesuffix(".png"): c for c in report.conditions}
    if figure == EARNINGS_FIGURE.removesuffix(".png"):
        png = earnings_png(report)
    elif figure in names:
        png = condition_png(report, names[figure])
    else:
        raise Http404(f"no figure {figure!r}")
    return HttpResponse(png, content_type="image/png")


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
