from django.contrib import admin

from .models import Trial


@admin.register(Trial)
class TrialAdmin(admin.ModelAdmin):
    """Read-only: trials are written by live play only."""

    list_display = ["participant", "study", "practice", "index", "participant_action", "adversary_action",
                    "participant_reward", "adversary_reward", "reaction_time_ms", "responded_at"]
    list_filter = ["participant__study", "participant__condition", "practice"]
    search_fields = ["participant__public_id"]
    list_select_related = ["participant", "participant__study"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Trial._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="study", ordering="participant__study")
    def study(self, trial):
        return trial.participant.study
