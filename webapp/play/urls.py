from django.urls import path

from . import views

urlpatterns = [
    path("p/<str:token>/", views.participant_home, name="participant-home"),
]
