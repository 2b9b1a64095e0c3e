"""The study admin with what reads a study's data: the Monitor page, the links to it and to the
downloads, and the CSV export action. They extend the studies app's admin here, since that app
does not know about trials (webapp/research/__init__.py)."""

from django.contrib import admin, messages
from django.urls import path, reverse
from django.utils.html import format_html

from webapp.studies.admin import StudyAdmin
from webapp.studies.models import Study

from . import monitor, views


class StudyDataAdmin(StudyAdmin):
    list_display = [*StudyAdmin.list_display, "links"]
    actions = [*StudyAdmin.actions, "export_csv"]

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:study_id>/monitor/", wrap(monitor.monitor), name="studies_study_monitor"),
            path("<int:study_id>/monitor/data/", wrap(monitor.monitor_data), name="studies_study_monitor_data"),
            path("<int:study_id>/monitor/figure/<slug:figure>.png", wrap(monitor.monitor_figure),
                 name="studies_study_monitor_figure"),
        ] + super().get_urls()

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            context["can_export"] = request.user.has_perm("studies.export_study", obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="")
    def links(self, study):
        return format_html('<a href="{}">monitor</a> · <a href="{}">CSV</a> · <a href="{}">Parquet</a>',
                           reverse("admin:studies_study_monitor", args=[study.pk]),
                           reverse("study-export", args=[study.slug, "csv"]),
                           reverse("study-export", args=[study.slug, "parquet"]))

    @admin.action(description="Export trials (CSV)")
    def export_csv(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one study to export.", level=messages.ERROR)
            return None
        return views.trials_response(request, queryset.get(), "csv")


admin.site.unregister(Study)
admin.site.register(Study, StudyDataAdmin)
