from django.contrib import admin
from rules.contrib.admin import ObjectPermissionsModelAdmin

from webapp.studies.selectors import studies_visible_to

from .models import Trial


@admin.register(Trial)
class TrialAdmin(ObjectPermissionsModelAdmin):
    """Read-only: trials are written by live play only. A researcher sees the trials of the studies
    they own or collaborate on (webapp/studies/rules.py)."""

    list_display = ["participant", "study", "practice", "index", "participant_action", "adversary_action",
                    "participant_reward", "adversary_reward", "reaction_time_ms", "responded_at"]
    # RelatedOnly: the filters offer only the studies and conditions of the trials listed.
    list_filter = [("participant__study", admin.RelatedOnlyFieldListFilter),
                   ("participant__condition", admin.RelatedOnlyFieldListFilter), "practice"]
    search_fields = ["participant__public_id"]
    list_select_related = ["participant", "participant__study"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(participant__study__in=studies_visible_to(request.user))

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Trial._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="study", ordering="participant__study")
    def study(self, trial):
        return trial.participant.study
