from django.urls import path

from .views import UsageCreateView

app_name = "catalog"

urlpatterns = [
    path("usage/", UsageCreateView.as_view(), name="usage-create"),
]
