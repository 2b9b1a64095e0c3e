from django.urls import path

from . import admin_views, views

urlpatterns = [
    path("s/<slug:slug>/", views.join, name="study-join"),
    path("studies/<slug:slug>/export.<str:fmt>", admin_views.export_download, name="study-export"),
]
