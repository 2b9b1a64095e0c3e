"""A participant's own pages: consent, instructions with comprehension check, play, debrief.

One URL per participant, `/p/<token>/`; what it shows follows the participant's status, so a
refresh always lands on the right step. Forms post back to it and are answered with a redirect
(Post/Redirect/Get), a form's problems kept in the session for the page that shows them, and no
page is cached: every entry of the browser's history is a GET that Back fetches afresh, so Back
from the debrief shows the debrief, never a stale step.
"""

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from webapp import ratelimit
from webapp.studies.models import Participant
from webapp.studies.selectors import participant_earnings
from webapp.studies.services import (participant_answer_comprehension, participant_consent, participant_end_if_due,
                                     participant_touch)

from .selectors import practice_length


@never_cache
@require_http_methods(["GET", "POST"])
def participant_home(request, token):
    participant = (Participant.objects.select_related("study", "condition").filter(token=token).first())
    if participant is None:
        # REMOTE_ADDR is the client's address: behind the reverse proxy daphne sets it from
        # X-Forwarded-For (--proxy-headers, docs/deploy.md).
        if ratelimit.unknown_token_exceeded(request.META.get("REMOTE_ADDR", "")):
            refused = HttpResponse("Too many unknown participant links from your address. Please try again later.\n",
                                   status=429, content_type="text/plain; charset=utf-8")
            refused["Retry-After"] = ratelimit.seconds_left_in_window(settings.SHAPING_LAB_UNKNOWN_TOKEN_WINDOW_S)
            return refused
        raise Http404("No such participant")
    # Before anything else, and before `participant_touch` moves the time the idle limit counts from.
    participant = participant_end_if_due(participant=participant)
    if request.method == "POST":
        return _post(request, participant)
    participant_touch(participant=participant)
    problems = request.session.pop(_problems_key(participant), {})
    status = participant.status
    context = {"participant": participant, "study": participant.study}
    if status == Participant.Status.CONSENT:
        return render(request, "play/consent.html", {**context, "error": problems.get("consent")})
    if status == Participant.Status.INSTRUCTIONS:
        check = {"answers": {int(i): choice for i, choice in problems.get("answers", {}).items()},
                 "wrong": problems.get("wrong", []), "unanswered": problems.get("unanswered", [])}
        return render(request, "play/instructions.html", {**context, **check, **_instructions_context(participant)})
    if status == Participant.Status.PLAYING:
        return render(request, "play/play.html", {**context, "game": participant.study.make_game()})
    if status in (Participant.Status.COMPLETED, Participant.Status.ENDED_AT_CLOSE):
        return render(request, "play/debrief.html", {
            **context, "earnings": participant_earnings(participant=participant),
            "ended_at_close": status == Participant.Status.ENDED_AT_CLOSE})
    if status == Participant.Status.TIMED_OUT:
        return render(request, "play/timed_out.html", context)
    return render(request, "play/declined.html", context)


def _post(request, participant):
    step = request.POST.get("step")
    if step == "consent" and participant.status == Participant.Status.CONSENT:
        agreed = request.POST.get("agree") == "yes"
        if not agreed and request.POST.get("decline") != "yes":
            return _show_again(request, participant,
                               {"consent": "Please tick the box to agree, or choose not to take part."})
        participant_consent(participant=participant, agreed=agreed)
    elif step == "comprehension" and participant.status == Participant.Status.INSTRUCTIONS:
        answers, unanswered = _answers(request.POST, len(participant.study.comprehension_questions))
        wrong = participant_answer_comprehension(participant=participant, answers=answers) if not unanswered else []
        if unanswered or wrong:
            # The session is JSON: the answers' question numbers travel as strings.
            return _show_again(request, participant, {"answers": {str(i): choice for i, choice in answers.items()},
                                                      "wrong": wrong, "unanswered": unanswered})
    # A repeated or stale post (back button, second tab) just shows the current step.
    return redirect("participant-home", token=participant.token)


def _show_again(request, participant, problems: dict):
    """Redirect to the participant's page, which shows the form again with `problems`."""
    request.session[_problems_key(participant)] = problems
    return redirect("participant-home", token=participant.token)


def _problems_key(participant) -> str:
    return f"play-form-problems-{participant.public_id}"


def _answers(post, n_questions) -> tuple[dict[int, int], list[int]]:
    answers, unanswered = {}, []
    for i in range(n_questions):
        value = post.get(f"q{i}", "")
        # The index of a choice, as the form sends it; anything else (other digits, like "²", or a
        # number too long for int()) counts as unanswered.
        if value.isascii() and value.isdigit() and len(value) <= 4:
            answers[i] = int(value)
        else:
            unanswered.append(i + 1)
    return answers, unanswered


def _instructions_context(participant):
    study = participant.study
    game = study.make_game()
    questions = [{"number": i + 1, "field": f"q{i}", **q}
                 for i, q in enumerate(study.comprehension_questions)]
    context = {"game": game, "params": game.params, "questions": questions,
               "practice_trials": practice_length(study=study)}
    return {**context, **game.instructions_context()}
