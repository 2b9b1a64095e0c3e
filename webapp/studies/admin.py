"""Researchers run studies from the Django admin."""

import json

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.core.exceptions import ValidationError
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from shaping_core.games import GAMES
from shaping_core.policies import policies_for
from webapp.policies.selectors import registered_policies_for

from . import admin_views
from .models import Condition, Participant, Study
from .services import study_set_status


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


class ConditionForm(forms.ModelForm):
    # Callable: the registered checkpoints are read from the database when a form is built, not at import.
    adversary = forms.ChoiceField(choices=lambda: adversary_choices(None), help_text=ADVERSARY_HELP)

    class Meta:
        model = Condition
        fields = ["name", "adversary", "adversary_params", "weight"]


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
        formset.form.base_fields["adversary"] = forms.ChoiceField(choices=choices, help_text=ADVERSARY_HELP)
        return formset


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "game", "status", "participant_count", "links"]
    list_filter = ["status", "game"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["status", "participant_link", "launched_at", "closed_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [ConditionInline]
    actions = ["launch", "pause", "close", "export_csv"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "status", "participant_link", "launched_at", "closed_at"]}),
        ("Game", {"fields": ["game", "game_params"], "description": _parameter_defaults_html()}),
        ("Participant pages", {"fields": ["consent_text", "instructions", "comprehension_questions"]}),
        ("Recruitment and payment", {"fields": ["participant_cap_per_condition", "completion_code",
                                                "completion_redirect_url", "money_per_point", "show_up_fee",
                                                "currency"]}),
    ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "status_actions": [
            ("launch", "Launch"), ("pause", "Pause"), ("close", "Close")]}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:study_id>/monitor/", wrap(admin_views.monitor), name="studies_study_monitor"),
            path("<int:study_id>/monitor/data/", wrap(admin_views.monitor_data), name="studies_study_monitor_data"),
            path("<int:study_id>/monitor/figure/<slug:figure>.png", wrap(admin_views.monitor_figure),
                 name="studies_study_monitor_figure"),
            path("<int:study_id>/status/<str:action>/", wrap(admin_views.change_status),
                 name="studies_study_status"),
        ] + super().get_urls()

    @admin.display(description="participants")
    def participant_count(self, study):
        return study.participants.count()

    @admin.display(description="participant link")
    def participant_link(self, study):
        if not study.pk:
            return "(after saving)"
        url = reverse("study-join", args=[study.slug])
        return format_html('<a href="{}">{}</a> (append ?PROLIFIC_PID=... or ?participant_label=...)', url, url)

    @admin.display(description="")
    def links(self, study):
        return format_html('<a href="{}">monitor</a> · <a href="{}">CSV</a> · <a href="{}">Parquet</a>',
                           reverse("admin:studies_study_monitor", args=[study.pk]),
                           reverse("study-export", args=[study.slug, "csv"]),
                           reverse("study-export", args=[study.slug, "parquet"]))

    def _set_status(self, request, queryset, action):
        for study in queryset:
            try:
                study_set_status(study=study, action=action)
                self.message_user(request, f"{study.name}: {action} done.")
            except ValidationError as error:
                self.message_user(request, "; ".join(error.messages), level=messages.ERROR)

    @admin.action(description="Launch (admit participants)")
    def launch(self, request, queryset):
        self._set_status(request, queryset, "launch")

    @admin.action(description="Pause (admit nobody new)")
    def pause(self, request, queryset):
        self._set_status(request, queryset, "pause")

    @admin.action(description="Close")
    def close(self, request, queryset):
        self._set_status(request, queryset, "close")

    @admin.action(description="Export trials (CSV)")
    def export_csv(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one study to export.", level=messages.ERROR)
            return None
        return admin_views.trials_response(queryset.get(), "csv")


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["public_id", "study", "condition", "status", "trial_count", "joined_at", "last_seen_at"]
    list_filter = ["study", "status", "condition"]
    search_fields = ["public_id", "external_id"]
    readonly_fields = [f.name for f in Participant._meta.fields]

    def has_add_permission(self, request):
        return False  # participants join through the study link only

    @admin.display(description="trials")
    def trial_count(self, participant):
        return participant.trials.filter(participant_action__isnull=False).count()
