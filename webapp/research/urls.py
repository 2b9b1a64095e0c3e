from django.urls import path

from . import views

urlpatterns = [
    # Before the trials' export.<fmt>, which would take "zip" for a format.
    path("studies/<slug:slug>/export.zip", views.bundle_download, name="study-export-bundle"),
    path("studies/<slug:slug>/export.<str:fmt>", views.trials_download, name="study-export"),
    path("studies/<slug:slug>/participants.csv", views.participants_download, name="study-export-participants"),
    path("studies/<slug:slug>/bonus.csv", views.bonus_download, name="study-export-bonus"),
]
