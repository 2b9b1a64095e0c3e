from django.apps import AppConfig


class ResearchConfig(AppConfig):
    name = "webapp.research"
    verbose_name = "Research data"
