"""Who may do what with a study: Django's permission checks, answered per object by `rules`.

Model-level permissions (may this account use the Studies admin at all, may it add a study) come
from Django's groups: the "Researchers" group (migration 0003) holds them. Object-level permissions
(may this account see, change, monitor or export *this* study) are answered here from the study's
owners and collaborators, through `rules`' authentication backend, so every check is a plain
`user.has_perm("studies.<codename>", study)`. Superusers pass every check (Django's `has_perm`).
"""

from __future__ import annotations

import rules

RESEARCHERS_GROUP = "Researchers"


@rules.predicate
def is_study_owner(user, study) -> bool:
    return study is not None and study.owners.filter(pk=user.pk).exists()


@rules.predicate
def is_study_member(user, study) -> bool:
    """An owner or a collaborator."""
    return study is not None and (study.owners.filter(pk=user.pk).exists()
                                  or study.collaborators.filter(pk=user.pk).exists())


@rules.predicate
def is_member_of_participants_study(user, participant) -> bool:
    return participant is not None and is_study_member(user, participant.study)


@rules.predicate
def owns_test_participant(user, participant) -> bool:
    """Test participants (previews) can be deleted, with their trials, by the study's owners. Real
    participants only by a superuser (a withdrawal)."""
    return participant is not None and participant.is_test and is_study_owner(user, participant.study)


@rules.predicate
def is_member_of_trials_study(user, trial) -> bool:
    return trial is not None and is_study_member(user, trial.participant.study)


rules.add_perm("studies.view_study", is_study_member)
rules.add_perm("studies.change_study", is_study_owner)
rules.add_perm("studies.delete_study", is_study_owner)
rules.add_perm("studies.monitor_study", is_study_member)
rules.add_perm("studies.export_study", is_study_member)
rules.add_perm("studies.view_participant", is_member_of_participants_study)
rules.add_perm("studies.delete_participant", owns_test_participant)
rules.add_perm("play.view_trial", is_member_of_trials_study)
