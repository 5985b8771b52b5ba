"""The site's URLs plus the bare view the HTTP figures are compared to."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def bare_view(request: HttpRequest) -> HttpResponse:
    """Baseline: the full middleware stack and no database, template or session work."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("bench/bare", bare_view, name="bench-bare"),
    path("", include("config.urls")),
]
