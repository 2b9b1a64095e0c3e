"""Researchers run studies from the Django admin.

Who sees and changes which study is decided per object by Django's permission checks, answered from
the study's owners and collaborators (webapp/studies/rules.py): the admin lists only the studies
`studies_visible_to` the user, and every page and action asks `user.has_perm(..., study)`.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from rules.contrib.admin import ObjectPermissionsModelAdmin

from shaping_core.games import GAMES
from shaping_core.policies import policies_for
from webapp.policies.selectors import registered_policies_for

from . import admin_views
from .models import Condition, Participant, Study
from .selectors import studies_visible_to
from .services import participant_delete, study_duplicate, study_set_status, study_status_actions


def adversary_choices(game: str | None, game_params: dict | None = None):
    """Adversaries that can play `game`: its classic strategies and the registered checkpoints trained
    for it (with `game_params`, only those trained for exactly these parameters), written
    `policy:<name>`. All of them grouped by game when the game is not known yet."""
    if game:
        classic = [(cls.name, cls.label) for cls in policies_for(game)]
        trained = [(p.adversary, _checkpoint_label(p))
                   for p in registered_policies_for(game=game, game_params=game_params)]
        return [("Classic strategies", classic)] + ([("Trained checkpoints", trained)] if trained else [])
    return [(GAMES[g].spec.label, [(cls.name, cls.label) for cls in policies_for(g)]
             + [(p.adversary, _checkpoint_label(p)) for p in registered_policies_for(game=g)])
            for g in GAMES]


def adversary_games() -> dict[str, list[str]]:
    """Which games each offered adversary can play, for the page's script that offers only the
    adversaries of the chosen game while the study's game is not saved yet."""
    games: dict[str, list[str]] = {}
    for game, group in zip(GAMES, adversary_choices(None)):
        for value, _ in group[1]:
            games.setdefault(value, []).append(game)
    return games


def _checkpoint_label(policy) -> str:
    objective = f", {policy.objective}" if policy.objective else ""
    return f"{policy.adversary} ({policy.kind}{objective})"


ADVERSARY_HELP = ("Classic strategies, and the trained checkpoints registered under Policies › Registered "
                  "policies for this game (on a saved study: only those trained for its game parameters).")


def _parameter_defaults_html() -> str:
    """Each game's parameters and their defaults, shown above the game fields."""
    items = format_html_join(
        "", "<li><code>{}</code>: {}</li>",
        ((name, json.dumps(cls.params_class().to_mapping())) for name, cls in GAMES.items()))
    return format_html("Parameters and their defaults:<ul>{}</ul>", items)


# An empty first choice: an untouched extra row is then unchanged and ignored, instead of a filled-in
# row whose first adversary may not even play the study's game.
NO_ADVERSARY = [("", "---------")]


def adversary_field(choices) -> forms.ChoiceField:
    return forms.ChoiceField(choices=NO_ADVERSARY + choices, help_text=ADVERSARY_HELP,
                             widget=forms.Select(attrs={"class": "adversary-select"}))


class ConditionForm(forms.ModelForm):
    # Callable: the registered checkpoints are read from the database when a form is built, not at import.
    adversary = forms.ChoiceField(choices=lambda: NO_ADVERSARY + adversary_choices(None), help_text=ADVERSARY_HELP)

    class Meta:
        model = Condition
        fields = ["name", "adversary", "adversary_params", "weight"]
        widgets = {"adversary_params": forms.Textarea(attrs={"rows": 2, "cols": 24}),
                   "weight": forms.NumberInput(attrs={"style": "width: 4em"})}


class ConditionInline(admin.TabularInline):
    model = Condition
    form = ConditionForm
    extra = 1

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        choices = adversary_choices(obj.game, obj.game_params) if obj else adversary_choices(None)
        if obj:
            # A saved adversary no longer offered (a deleted or mismatched checkpoint) stays visible and
            # selected, so saving the page never silently switches it; Condition.clean says what is wrong.
            offered = {value for _, group in choices for value, _ in group}
            missing = sorted(set(obj.conditions.values_list("adversary", flat=True)) - offered)
            if missing:
                choices.append(("No longer offered", [(value, value) for value in missing]))
        # A new field per request: the declared one is shared by every form class built from ConditionForm.
        formset.form.base_fields["adversary"] = adversary_field(choices)
        return formset

    # Conditions are part of the study: whoever may change the study may change them.
    def has_add_permission(self, request, obj=None):
        return obj is None or request.user.has_perm("studies.change_study", obj)

    def has_change_permission(self, request, obj=None):
        return obj is None or request.user.has_perm("studies.change_study", obj)

    def has_delete_permission(self, request, obj=None):
        return obj is None or request.user.has_perm("studies.change_study", obj)

    def has_view_permission(self, request, obj=None):
        return obj is None or request.user.has_perm("studies.view_study", obj)


PROLIFIC_QUERY = "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"


def participant_links(request, study: Study) -> list[tuple[str, str, str]]:
    """(label, full URL, element id): the study's participant link, and the same with Prolific's
    query template."""
    join = request.build_absolute_uri(reverse("study-join", args=[study.slug]))
    return [("Link", join, "participant-link"), ("On Prolific", join + PROLIFIC_QUERY, "prolific-link")]


@admin.register(Study)
class StudyAdmin(ObjectPermissionsModelAdmin):
    list_display = ["name", "slug", "game", "status", "participant_count"]
    list_filter = ["status", "game"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["status", "launched_at", "closed_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    filter_horizontal = ["owners", "collaborators"]
    inlines = [ConditionInline]
    actions = ["launch", "pause", "close", "duplicate"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "status", "launched_at", "closed_at"]}),
        ("Game", {"fields": ["game", "game_params"], "description": _parameter_defaults_html()}),
        ("Participant pages", {"fields": ["consent_text", "instructions", "comprehension_questions",
                                          "practice_trials", "break_every_trials"]}),
        ("Recruitment and payment", {"fields": ["participant_cap_per_condition", "completion_code",
                                                "completion_redirect_url", "money_per_point", "show_up_fee",
                                                "currency"]}),
        ("Time limits and closing", {"fields": ["start_time_limit_minutes", "idle_time_limit_minutes",
                                                "close_grace_minutes"]}),
        ("People", {"fields": ["owners", "collaborators"],
                    "description": "Staff accounts (in the Researchers group) see only the studies they own "
                                   "or collaborate on; superusers see all."}),
    ]

    class Media:
        css = {"all": ["css/study_admin.css"]}
        js = ["js/study_admin.js"]

    def get_queryset(self, request):
        return studies_visible_to(request.user) & super().get_queryset(request)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name in ("owners", "collaborators"):
            kwargs["queryset"] = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not change and not form.instance.owners.exists():
            form.instance.owners.add(request.user)  # whoever creates a study owns it

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is None:  # the game is still to be chosen: the script filters the adversaries by it
            context["adversary_games"] = adversary_games()
        if obj is not None and obj.pk:
            context["participant_links"] = participant_links(request, obj)
            if request.user.has_perm("studies.change_study", obj):
                labels = {"launch": "Resume" if obj.status == Study.Status.PAUSED else "Launch",
                          "pause": "Pause", "close": "Close"}
                context["status_actions"] = [(action, labels[action]) for action in study_status_actions(study=obj)]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:study_id>/status/<str:action>/", wrap(admin_views.change_status),
                 name="studies_study_status"),
            path("<int:study_id>/preview/", wrap(admin_views.preview), name="studies_study_preview"),
            path("<int:study_id>/duplicate/", wrap(admin_views.duplicate), name="studies_study_duplicate"),
        ] + super().get_urls()

    @admin.display(description="participants")
    def participant_count(self, study):
        return study.participants.filter(is_test=False).count()

    def _for_each(self, request, queryset, permission, verb, service):
        """Run `service(study)` on each selected study the user has `permission` on."""
        for study in queryset:
            if not request.user.has_perm(permission, study):
                self.message_user(request, f"{study.name}: you may not {verb} this study.", level=messages.ERROR)
                continue
            try:
                message = service(study)
                self.message_user(request, message)
            except ValidationError as error:
                self.message_user(request, "; ".join(error.messages), level=messages.ERROR)

    def _set_status(self, request, queryset, action):
        def set_status(study):
            study_set_status(study=study, action=action)
            return f"{study.name}: {action} done."
        self._for_each(request, queryset, "studies.change_study", action, set_status)

    @admin.action(description="Launch (admit participants)")
    def launch(self, request, queryset):
        self._set_status(request, queryset, "launch")

    @admin.action(description="Pause (admit nobody new)")
    def pause(self, request, queryset):
        self._set_status(request, queryset, "pause")

    @admin.action(description="Close (games in progress end after the grace period)")
    def close(self, request, queryset):
        self._set_status(request, queryset, "close")

    @admin.action(description="Duplicate as a new draft")
    def duplicate(self, request, queryset):
        if not request.user.has_perm("studies.add_study"):
            self.message_user(request, "You may not add studies.", level=messages.ERROR)
            return

        def copy(study):
            new = study_duplicate(study=study, by=request.user)
            return f"{study.name}: duplicated as the draft {new.name!r} ({new.slug})."
        self._for_each(request, queryset, "studies.view_study", "duplicate", copy)


class TestParticipantFilter(admin.SimpleListFilter):
    title = "participants"
    parameter_name = "test"

    def lookups(self, request, model_admin):
        return [("0", "Real participants"), ("1", "Test participants (previews)")]

    def queryset(self, request, queryset):
        if self.value() in ("0", "1"):
            return queryset.filter(is_test=self.value() == "1")
        return queryset


@admin.register(Participant)
class ParticipantAdmin(ObjectPermissionsModelAdmin):
    """Read-only. Test participants can be deleted with their trials by the study's owners; any
    participant by a superuser (a withdrawal). Trials are protected from every other deletion."""

    list_display = ["public_id", "study", "condition", "status", "is_test", "trial_count", "joined_at",
                    "last_seen_at"]
    list_filter = [("study", admin.RelatedOnlyFieldListFilter), "status", TestParticipantFilter,
                   ("condition", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["public_id", "external_id"]
    readonly_fields = [f.name for f in Participant._meta.fields]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(study__in=studies_visible_to(request.user))

    def has_add_permission(self, request):
        return False  # participants join through the study link only

    def has_change_permission(self, request, obj=None):
        return False

    def get_deleted_objects(self, objs, request):
        """What deleting `objs` removes: the participants and their trials. The trials' protection
        guards the study's data against other deletions, not this one (`participant_delete`)."""
        to_delete, counts, perms_needed, _ = super().get_deleted_objects(objs, request)
        trials = sum(p.trials.count() for p in objs)
        if trials:
            counts["trials"] = trials
            to_delete.append(f"{trials} trial{'s' if trials != 1 else ''}")
        perms_needed = {p for p in perms_needed if p != "trial"}
        return to_delete, counts, perms_needed, []

    def delete_model(self, request, obj):
        participant_delete(participant=obj)

    def delete_queryset(self, request, queryset):
        for participant in queryset:
            participant_delete(participant=participant)

    @admin.display(description="trials")
    def trial_count(self, participant):
        return participant.trials.filter(practice=False, participant_action__isnull=False).count()
