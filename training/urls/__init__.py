"""The training pages under /training/: one URL list per half of the app, in one namespace."""

from training.urls import cohorts, students

app_name = "training"

urlpatterns = [*students.urlpatterns, *cohorts.urlpatterns]
