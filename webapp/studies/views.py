"""The public join link."""

from django.shortcuts import get_object_or_404, redirect, render

from .models import Study
from .services import ExternalIds, StudyFull, StudyNotOpen, participant_join


def join(request, slug):
    """`/s/<slug>/`: admit the visitor (or find their participation) and send them to their own
    unguessable page. Recruitment-platform ids come in the query string."""
    study = get_object_or_404(Study, slug=slug)
    try:
        participant, _ = participant_join(study=study, external=ExternalIds.from_query(request.GET))
    except StudyNotOpen:
        return render(request, "studies/not_open.html", {"study": study}, status=403)
    except StudyFull:
        return render(request, "studies/full.html", {"study": study}, status=403)
    return redirect("participant-home", token=participant.token)
