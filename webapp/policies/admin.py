"""Researchers register trained policy checkpoints by uploading the .pt file (thin: the service
validates and writes)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.text import capfirst

from webapp.studies.selectors import policy_conditions

from .models import RegisteredPolicy
from .services import (MAX_CHECKPOINT_BYTES, PolicyRegistrationError, policy_delete, policy_register,
                       policy_registration_check, policy_update, too_large)


class PolicyUploadForm(forms.ModelForm):
    """Name, description and the .pt file; everything else is read from the checkpoint."""

    checkpoint_file = forms.FileField(
        label="Checkpoint (.pt)",
        help_text=f"A policy checkpoint written by shaping_core (e.g. python -m shaping_core train-adversary "
                  f"... --out A.pt); at most {MAX_CHECKPOINT_BYTES // 2**20} MB.")
    replace = forms.BooleanField(
        required=False, label="Replace an existing policy of this name",
        help_text="Only possible while no participant has played it.")

    class Meta:
        model = RegisteredPolicy
        fields = ["name", "description"]

    def clean_checkpoint_file(self) -> bytes:
        upload = self.cleaned_data["checkpoint_file"]
        if upload.size > MAX_CHECKPOINT_BYTES:  # before reading it into memory
            raise forms.ValidationError(capfirst(too_large(upload.size)))
        return upload.read()

    def clean(self):
        cleaned = super().clean()
        if "name" in cleaned and "checkpoint_file" in cleaned:
            try:
                policy_registration_check(name=cleaned["name"], data=cleaned["checkpoint_file"],
                                          replace=cleaned.get("replace", False))
            except PolicyRegistrationError as error:
                raise forms.ValidationError(str(error)) from None
        return cleaned

    def validate_unique(self):
        pass  # the service decides whether a taken name may be replaced, and says why not


class PolicyDescriptionForm(forms.ModelForm):
    class Meta:
        model = RegisteredPolicy
        fields = ["description"]


def _pretty_json(value) -> str:
    return format_html("<pre style='margin:0'>{}</pre>", json.dumps(value, indent=2, sort_keys=True))


@admin.register(RegisteredPolicy)
class RegisteredPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "game", "objective", "kind", "size", "created_at", "created_by"]
    list_filter = ["game", "kind", "objective"]
    search_fields = ["name", "description", "objective"]
    detail_fieldsets = [
        (None, {"fields": ["name", "adversary_name", "description", "game", "kind", "objective",
                           "created_at", "created_by"]}),
        ("From the checkpoint", {"fields": ["game_params_json", "provenance_json", "metrics_json", "size", "sha256"]}),
        ("Use", {"fields": ["conditions"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("checkpoint")  # the list needs no bytes

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = PolicyDescriptionForm if obj else PolicyUploadForm
        kwargs["fields"] = ["description"] if obj else ["name", "description", "checkpoint_file", "replace"]
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["name", "description", "checkpoint_file", "replace"]})]
        return self.detail_fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f for _, options in self.detail_fieldsets for f in options["fields"] if f != "description"]

    def save_form(self, request, form, change):
        if change:
            return policy_update(policy=form.instance, description=form.cleaned_data["description"])
        return policy_register(name=form.cleaned_data["name"], data=form.cleaned_data["checkpoint_file"],
                               description=form.cleaned_data["description"], created_by=request.user,
                               replace=form.cleaned_data["replace"])

    def save_model(self, request, obj, form, change):
        pass  # save_form's service call has written it

    def save_related(self, request, form, formsets, change):
        pass  # no related objects; and the form never saved itself

    def has_delete_permission(self, request, obj=None):
        if obj is not None and policy_conditions(name=obj.name).exists():
            return False  # a condition naming it could no longer start or replay its games
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        policy_delete(policy=obj)

    def delete_queryset(self, request, queryset):
        for policy in queryset:
            try:
                policy_delete(policy=policy)
            except PolicyRegistrationError as error:
                self.message_user(request, str(error), level=messages.ERROR)

    @admin.display(description="adversary")
    def adversary_name(self, policy):
        return format_html("<code>{}</code> (a condition's adversary)", policy.adversary)

    @admin.display(description="game parameters")
    def game_params_json(self, policy):
        return _pretty_json(policy.game_params)

    @admin.display(description="provenance")
    def provenance_json(self, policy):
        return _pretty_json(policy.provenance)

    @admin.display(description="metrics")
    def metrics_json(self, policy):
        return _pretty_json(policy.metrics)

    @admin.display(description="conditions playing it")
    def conditions(self, policy):
        names = [str(c) for c in policy_conditions(name=policy.name)]
        return ", ".join(names) or "none"
