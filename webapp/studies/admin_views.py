"""Staff-only pages beside the study admin: status changes, previews and duplicates (the monitor
and the downloads, which read trials: webapp/research)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_POST

from .models import Participant, Study
from .selectors import studies_visible_to
from .services import participant_preview, study_duplicate, study_set_status


def study_for(request, study_id, permission: str) -> Study:
    """The study, if `request.user` may see it (404 otherwise, so its existence does not leak) and
    has `permission` on it (403 otherwise)."""
    study = get_object_or_404(studies_visible_to(request.user), pk=study_id)
    if not request.user.has_perm(permission, study):
        raise PermissionDenied(f"you may not do this with study {study.slug!r}")
    return study


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
