from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

urlpatterns = [
    # The bare address: a neutral page, which tells someone taking part to use their own link.
    path("", TemplateView.as_view(template_name="play/home.html"), name="home"),
    path("admin/", admin.site.urls),
    path("", include("webapp.studies.urls")),
    path("", include("webapp.play.urls")),
    path("", include("webapp.research.urls")),
]
