from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("webhooks/<slug:gateway>/", views.webhook_receive_view, name="webhook"),
    path("sandbox/<uuid:token>/", views.SandboxPageView.as_view(), name="sandbox-page"),
]
