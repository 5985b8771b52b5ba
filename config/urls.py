from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from accounts.views import LoginView

from .health import healthz

# The admin signs in through allauth: its rate limits and MFA apply to staff too.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = _("Simdesk staff console")
admin.site.site_title = _("Simdesk staff console")
admin.site.index_title = _("Staff console")

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
