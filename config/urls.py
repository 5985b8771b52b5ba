from django.contrib import admin
from django.urls import include, path

from accounts.views import LoginView

from .health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    # allauth's own login view, answering 429 once failed attempts pass the limit.
    path("accounts/login/", LoginView.as_view(), name="account_login"),
    path("accounts/", include("allauth.urls")),
    path("me/", include("accounts.urls")),
    path("pay/", include("billing.urls")),
    path("api/", include("catalog.urls")),
    path("", include("storefront.urls")),
]
