from collections.abc import Callable

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

MSG_STAFF_MFA_REQUIRED = _(
    "Staff accounts must set up two-factor authentication before using the staff console."
)


class UserLocaleMiddleware(LocaleMiddleware):
    """Signed-in users get the language saved on their profile; visitors the cookie or browser's."""

    def process_request(self, request: HttpRequest) -> None:
        user = getattr(request, "user", None)
        language = (
            getattr(user, "preferred_language", None) if user and user.is_authenticated else None
        )
        if language and language in dict(settings.LANGUAGES):
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
            return
        super().process_request(request)


class StaffMFARequiredMiddleware:
    """With STAFF_MFA_REQUIRED on, staff without a TOTP authenticator are sent to enrol first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.STAFF_MFA_REQUIRED and self._needs_enrolment(request):
            messages.warning(request, MSG_STAFF_MFA_REQUIRED)
            return redirect("mfa_activate_totp")
        return self.get_response(request)

    @staticmethod
    def _needs_enrolment(request: HttpRequest) -> bool:
        user = request.user
        if not (user.is_authenticated and user.is_staff):
            return False
        if not request.path.startswith(reverse("admin:index")):
            return False
        return not is_mfa_enabled(user, [Authenticator.Type.TOTP])
