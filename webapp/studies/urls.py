from django.urls import path

from . import export_views, views

urlpatterns = [
    path("s/<slug:slug>/", views.join, name="study-join"),
    # Before the trials' export.<fmt>, which would take "zip" for a format.
    path("studies/<slug:slug>/export.zip", export_views.bundle_download, name="study-export-bundle"),
    path("studies/<slug:slug>/export.<str:fmt>", export_views.trials_download, name="study-export"),
    path("studies/<slug:slug>/participants.csv", export_views.participants_download,
         name="study-export-participants"),
    path("studies/<slug:slug>/bonus.csv", export_views.bonus_download, name="study-export-bonus"),
]
