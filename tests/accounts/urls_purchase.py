"""A stand-in purchase page for testing the guard every money-taking page uses."""

from django.http import HttpResponse
from django.urls import include, path
from django.views import View

from accounts.mixins import VerifiedEmailRequiredMixin


class PurchaseView(VerifiedEmailRequiredMixin, View):
    def get(self, request):
        return HttpResponse("checkout")


urlpatterns = [
    path("buy/", PurchaseView.as_view()),
    path("", include("config.urls")),
]
