"""The study's Monitor page beside the admin (webapp/research/admin.py adds its URLs): participants
by condition and status, trials stored, drop-outs, each participant's progress, and the
per-condition summaries and figures of the report (report.py)."""

from django.contrib import admin
from django.http import Http404, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from webapp.studies.admin_views import study_for
from webapp.studies.models import Study
from webapp.studies.selectors import ParticipantRow, study_monitor, study_participant_rows
from webapp.studies.services import participants_end_due

from .report import EARNINGS_FIGURE, condition_figure, condition_png, earnings_png, study_report


def _totals(summaries) -> dict:
    return {"participants": sum(s.total for s in summaries), "trials": sum(s.trials for s in summaries),
            "dropouts": sum(s.dropouts for s in summaries)}


def _participant_row(row: ParticipantRow) -> dict:
    return {"participant": row.public_id, "condition": row.condition, "status": row.status,
            "trial": f"{row.trials_done} of {row.episode_length}", "points": round(row.points, 2),
            "last_seen": timezone.localtime(row.last_seen_at).strftime("%H:%M:%S"),
            "last_seen_iso": row.last_seen_at.isoformat()}


def monitor(request, study_id):
    """Participants by condition and status, trials stored, drop-outs, each participant's progress, the
    per-condition summaries and figures (wrapped by admin_view); the page polls monitor_data to stay
    current."""
    study = study_for(request, study_id, "studies.monitor_study")
    participants_end_due(study=study, now=timezone.now())
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
        "participants": [_participant_row(row) for row in study_participant_rows(study=study)],
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
    study = study_for(request, study_id, "studies.monitor_study")
    participants_end_due(study=study, now=timezone.now())
    summaries = study_monitor(study=study)
    report = study_report(study=study, conditions=[s.name for s in summaries])
    results = report.condition_summaries()
    return JsonResponse({
        "study": study.slug, "status": study.get_status_display(), "totals": _totals(summaries),
        "measures": {m.name: m.label for m in report.measures},
        "conditions": [{"name": s.name, "adversary": s.adversary, "weight": s.weight, "by_status": s.by_status,
                        "total": s.total, "dropouts": s.dropouts, "trials": s.trials, "summary": results[s.name]}
                       for s in summaries],
        "participants": [_participant_row(row) for row in study_participant_rows(study=study)],
    })


def monitor_figure(request, study_id, figure):
    """A PNG of the current data: `condition-<name>` (rates by trial) or `earnings` (wrapped by admin_view)."""
    study = study_for(request, study_id, "studies.monitor_study")
    report = study_report(study=study)
    names = {condition_figure(c).removesuffix(".png"): c for c in report.conditions}
    if figure == EARNINGS_FIGURE.removesuffix(".png"):
        png = earnings_png(report)
    elif figure in names:
        png = condition_png(report, names[figure])
    else:
        raise Http404(f"no figure {figure!r}")
    return HttpResponse(png, content_type="image/png")
