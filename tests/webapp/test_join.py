"""The join link: participant creation, external ids, resume, balanced assignment and caps."""

import threading
from collections import Counter
from urllib.parse import urlencode

import pytest
from django.db import connection

from helpers import make_study
from webapp.studies.models import Participant
from webapp.studies.services import ExternalIds, StudyFull, StudyNotOpen, participant_join


def join_url(study, **query):
    return f"/s/{study.slug}/" + (f"?{urlencode(query)}" if query else "")


def start(client, study, **query):
    """Press Start on the start page of the link with `query`: the form posts the link's ids."""
    return client.post(join_url(study, **query), {"step": "start", **query})


def test_joining_creates_a_participant_and_redirects_to_their_own_page(client, study_factory):
    study = study_factory("ipd")
    response = start(client, study, PROLIFIC_PID="abc", STUDY_ID="s1", SESSION_ID="x9")
    participant = Participant.objects.get()
    assert response.status_code == 302 and response.url == f"/p/{participant.token}/"
    assert (participant.external_id, participant.external_study_id, participant.external_session_id) == (
        "abc", "s1", "x9")
    assert len(participant.token) >= 40 and participant.public_id != participant.token
    assert participant.episode_length == 5 and participant.status == Participant.Status.CONSENT


def test_participant_label_is_an_alternative_external_id(client, study_factory):
    study = study_factory("ipd")
    start(client, study, participant_label="lab-7")
    assert Participant.objects.get().external_id == "lab-7"


def test_the_same_external_id_resumes_and_never_duplicates(client, study_factory):
    study = study_factory("ipd")
    first = start(client, study, PROLIFIC_PID="abc").url
    second = start(client, study, PROLIFIC_PID="abc").url
    revisit = client.get(join_url(study, PROLIFIC_PID="abc")).url  # the link again: straight back
    assert first == second == revisit and Participant.objects.count() == 1


def test_anonymous_visits_are_separate_participants(client, study_factory):
    study = study_factory("ipd")
    assert start(client, study).url != start(client, study).url


@pytest.mark.parametrize("status", ["draft", "paused", "closed"])
def test_a_study_that_is_not_live_admits_nobody_new(client, study_factory, status):
    study = study_factory("ipd", status=status)
    for visitor in ({"PROLIFIC_PID": "new"}, {"participant_label": "lab-1"}, {}):  # anonymous too
        for response in (client.get(join_url(study, **visitor)), start(client, study, **visitor)):
            assert response.status_code == 403 and b"not accepting" in response.content.lower(), visitor
    assert not Participant.objects.exists()


def test_a_paused_study_still_lets_its_participants_resume(client, study_factory):
    from webapp.studies.services import study_set_status

    study = study_factory("ipd")
    url = start(client, study, PROLIFIC_PID="abc").url
    study_set_status(study=study, action="pause")
    assert client.get(join_url(study, PROLIFIC_PID="abc")).url == url
    assert start(client, study, PROLIFIC_PID="abc").url == url


def test_unknown_study_is_404(client, db):
    assert client.get("/s/no-such-study/").status_code == 404


def test_assignment_follows_the_weights(study_factory):
    study = study_factory("ipd", conditions=[("a", "tit_for_tat", {}, 1), ("b", "always_defect", {}, 2),
                                             ("c", "grim_trigger", {}, 1)])
    for _ in range(8):
        participant_join(study=study, external=ExternalIds())
    assert Counter(Participant.objects.values_list("condition__name", flat=True)) == {"a": 2, "b": 4, "c": 2}


def test_caps_are_never_exceeded_and_a_full_study_says_so(client, study_factory):
    study = study_factory("ipd", cap=2, conditions=[("a", "tit_for_tat", {}, 1), ("b", "always_defect", {}, 3)])
    for _ in range(4):
        participant_join(study=study, external=ExternalIds())
    assert Counter(Participant.objects.values_list("condition__name", flat=True)) == {"a": 2, "b": 2}
    response = start(client, study)
    assert response.status_code == 403 and b"full" in response.content.lower()


def test_participants_who_declined_do_not_hold_a_place(study_factory):
    from webapp.studies.services import participant_consent

    study = study_factory("ipd", cap=1)
    declined, _ = participant_join(study=study, external=ExternalIds())
    participant_consent(participant=declined, agreed=False)
    joined, _ = participant_join(study=study, external=ExternalIds())
    assert joined.pk != declined.pk
    with pytest.raises(StudyFull):
        participant_join(study=study, external=ExternalIds())


def test_link_previews_and_visits_take_no_place(client, study_factory):
    """Chat apps' link unfurlers GET or HEAD every shared link; before, each visit made a participant
    and, with a cap of 1, the first real person was told the study was full."""
    study = study_factory("ipd", cap=1)
    for response in (client.head(join_url(study)), client.get(join_url(study)),
                     client.get(join_url(study, PROLIFIC_PID="unfurl"))):
        assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    page = client.get(join_url(study, PROLIFIC_PID="abc", STUDY_ID="s1")).content.decode()
    assert 'name="PROLIFIC_PID" value="abc"' in page and 'name="STUDY_ID" value="s1"' in page
    assert not Participant.objects.exists()
    response = start(client, study, PROLIFIC_PID="abc")
    assert response.status_code == 302 and Participant.objects.get().external_id == "abc"


def test_bandit_target_side_is_counterbalanced(study_factory):
    study = study_factory("bandit")
    orders = [participant_join(study=study, external=ExternalIds())[0].screen_order for _ in range(4)]
    assert orders == [[0, 1], [1, 0], [0, 1], [1, 0]]


def test_ipd_with_a_continuation_probability_stores_each_drawn_length(study_factory):
    study = study_factory("ipd", params={"continuation_probability": 0.8, "max_rounds": 30})
    lengths = [participant_join(study=study, external=ExternalIds())[0].episode_length for _ in range(20)]
    assert all(1 <= n <= 30 for n in lengths) and len(set(lengths)) > 1


def _join_in_threads(study, external_ids):
    """Join from many threads at once (each with its own database connection)."""
    barrier = threading.Barrier(len(external_ids))
    outcomes = []

    def join(external_id):
        barrier.wait()
        try:
            participant, created = participant_join(study=study, external=ExternalIds(participant=external_id))
            outcomes.append(("joined", participant.pk, created))
        except (StudyFull, StudyNotOpen) as error:
            outcomes.append((type(error).__name__, None, False))
        finally:
            connection.close()

    threads = [threading.Thread(target=join, args=(e,)) for e in external_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_concurrent_joins_at_the_cap_never_overfill():
    study = make_study("ipd", cap=3, conditions=[("a", "tit_for_tat", {}, 1), ("b", "always_defect", {}, 1)])
    outcomes = _join_in_threads(study, [f"p{i}" for i in range(16)])
    assert Counter(kind for kind, _, _ in outcomes) == {"joined": 6, "StudyFull": 10}
    assert Counter(Participant.objects.values_list("condition__name", flat=True)) == {"a": 3, "b": 3}


@pytest.mark.django_db(transaction=True)
def test_concurrent_joins_with_one_external_id_make_one_participation():
    study = make_study("ipd")
    outcomes = _join_in_threads(study, ["same"] * 8)
    assert Participant.objects.count() == 1
    assert {pk for _, pk, _ in outcomes} == {Participant.objects.get().pk}
    assert sum(created for _, _, created in outcomes) == 1
