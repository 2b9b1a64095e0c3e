"""Staff-only pages beside the admin: the study monitor and status changes (downloads: export_views.py)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from .models import Participant, Study
from .report import EARNINGS_FIGURE, condition_figure, condition_png, earnings_png, study_report
from .selectors import ParticipantRow, studies_visible_to, study_monitor, study_participant_rows
from .services import participant_preview, participants_end_due, study_duplicate, study_set_status

def study_for(request, study_id, permission: str) -> Study:
    """The study, if `request.user` may see it (404 otherwise, so its existence does not leak) and
    has `permission` on it (403 otherwise)."""
    study = get_object_or_404(studies_visible_to(request.user), pk=study_id)
    if not request.user.has_perm(permission, study):
        raise PermissionDenied(f"you may not do this with study {study.slug!r}")
    return study


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


@require_POST
def change_status(request, study_id, action):
    study = study_for(request, study_id, "studies.change_study")
    if action not in ("launch", "pause", "close"):
        raise Http404(action)
    try:
        study = study_set_status(study=study, action=action)
        messages.success(request, f"{study.name}: {action} done.")
        if action == "close":
            messages.info(request, _close_note(study))
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
    return redirect("admin:studies_study_change", study_id)


def _close_note(study: Study) -> str:
    grace = study.close_grace_minutes
    if grace == 0:
        return "Games in progress ended now: those players see the debrief with the points earned so far."
    playing = study.participants.filter(status=Participant.Status.PLAYING).count()
    return (f"{playing} game{pluralize(playing)} in progress may go on for {grace} minute{pluralize(grace)}; "
            "then each ends with the debrief and the points earned so far.")


@require_POST
def preview(request, study_id):
    """Play the study as a test participant (drafts included), in a new tab."""
    study = study_for(request, study_id, "studies.view_study")
    try:
        participant = participant_preview(study=study)
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
        return redirect("admin:studies_study_change", study_id)
    return redirect("participant-home", token=participant.token)


@require_POST
def duplicate(request, study_id):
    """A new draft with the study's settings and conditions; the user owns it."""
    study = study_for(request, study_id, "studies.view_study")
    if not request.user.has_perm("studies.add_study"):
        raise PermissionDenied("you may not add studies")
    copy = study_duplicate(study=study, by=request.user)
    messages.success(request, f"{study.name}: duplicated as the draft {copy.name!r}. Edit it, then launch it.")
    return redirect("admin:studies_study_change", copy.pk)
