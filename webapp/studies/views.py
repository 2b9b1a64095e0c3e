"""The public join link."""

from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from .models import Participant, Study
from .services import EXTERNAL_ID_FIELDS, ExternalIds, StudyFull, StudyNotOpen, participant_join


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def join(request, slug):
    """`/s/<slug>/`: a visit (GET or HEAD) only shows the start page: link previews and visitors who
    never press Start take no place. Pressing Start (POST) admits the visitor and sends them to their
    own unguessable page. Recruitment-platform ids come in the link's query string and travel with the
    form; someone who already joined with the same id goes straight back to their own page."""
    study = get_object_or_404(Study, slug=slug)
    external = ExternalIds.from_query(request.POST if request.method == "POST" else request.GET)
    if request.method != "POST":
        existing = (Participant.objects.filter(study=study, external_id=external.participant).first()
                    if external.participant else None)
        if existing is not None:
            return redirect("participant-home", token=existing.token)
        if study.status != Study.Status.LIVE:
            return render(request, "studies/not_open.html", {"study": study}, status=403)
        return render(request, "studies/start.html", {
            "external_ids": [(name, request.GET[name]) for name in EXTERNAL_ID_FIELDS if name in request.GET],
            "start_minutes": study.start_time_limit_minutes,
        })
    try:
        participant, _ = participant_join(study=study, external=external)
    except StudyNotOpen:
        return render(request, "studies/not_open.html", {"study": study}, status=403)
    except StudyFull:
        return render(request, "studies/full.html", {"study": study}, status=403)
    return redirect("participant-home", token=participant.token)
