from collections.abc import Callable
from typing import Any, cast

from allauth.account.views import LoginView as AllauthLoginView
from allauth.core.ratelimit import respond_429
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django.views.generic import FormView

from . import services
from .currency import currency_cookie_set, currency_of, url_without_currency
from .forms import AccountSettingsForm, CurrencyForm, LanguageForm
from .mixins import VerifiedEmailRequiredMixin
from .models import User

MSG_SETTINGS_SAVED = _("Your settings have been saved.")


class LoginView(AllauthLoginView):
    """allauth's login, with "too many failed attempts" answered 429 rather than a form error."""

    def form_invalid(self, form: BaseForm) -> HttpResponse:
        if form.has_error("__all__", code="too_many_login_attempts"):
            return respond_429(self.request)
        return super().form_invalid(form)


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    """Where a switcher sends the shopper back to: `next` (else the Referer) when it stays on
    this site, without any currency= so the new choice wins; otherwise the home page."""
    for url in (candidate, request.META.get("HTTP_REFERER")):
        if url and url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return url_without_currency(url)
    return "/"


def _language_cookie_set(response: HttpResponse, language: str) -> None:
    """The cookie Django's own set_language view writes, with the same settings."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


# Why the switchers accept GET: the language and the currency are display preferences. Switching
# them moves no money and changes no account data beyond what the pages are shown in, so a forged
# link can do no more harm than a visitor clicking the switcher. Plain links keep every page free of
# a CSRF token, so pages can be cached for visitors; the links carry rel="nofollow" and the answers
# are never cached. POST still works (with Django's CSRF check), for forms that use it.
def _preference_switch(
    request: HttpRequest,
    form_class: type[LanguageForm] | type[CurrencyForm],
    field: str,
    cookie_set: Callable[[HttpResponse, str], None],
    save: Callable[[User, str], object],
) -> HttpResponse:
    """Back to a safe `next`; a valid choice is set in its cookie and, for a signed-in user,
    saved on the profile. An unknown value changes nothing."""
    data = request.POST if request.method == "POST" else request.GET
    form = form_class(data)
    response = HttpResponseRedirect(_safe_next(request, data.get("next")))
    if form.is_valid():
        value = form.cleaned_data[field]
        cookie_set(response, value)
        if request.user.is_authenticated:
            save(cast(User, request.user), value)
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def language_set_view(request: HttpRequest) -> HttpResponse:
    """Like Django's set_language (cookie, safe redirect), plus the choice saved on the profile."""
    return _preference_switch(
        request,
        LanguageForm,
        "language",
        _language_cookie_set,
        lambda user, language: services.user_set_language(user=user, language=language),
    )


@never_cache
@require_http_methods(["GET", "POST"])
def currency_set_view(request: HttpRequest) -> HttpResponse:
    """The currency selector (GET is acceptable: see the note above language_set_view). Remembers
    the choice in a cookie and, for a signed-in customer, on the profile."""
    return _preference_switch(
        request,
        CurrencyForm,
        "currency",
        currency_cookie_set,
        lambda user, currency: services.user_set_currency(user=user, currency=currency),
    )


class SettingsView(VerifiedEmailRequiredMixin, FormView):
    """Account settings: language and currency, and the way to email, password, two-factor
    authentication, bound cards and support requests."""

    template_name = "accounts/settings.html"
    form_class = AccountSettingsForm

    def get_initial(self) -> dict[str, Any]:
        user = self.request.user
        return {
            "language": getattr(user, "preferred_language", "") or translation.get_language(),
            "currency": currency_of(self.request),
        }

    def form_valid(self, form: AccountSettingsForm) -> HttpResponse:
        user = self.request.user
        assert isinstance(user, User)
        language = form.cleaned_data["language"]
        services.user_set_language(user=user, language=language)
        services.user_set_currency(user=user, currency=form.cleaned_data["currency"])
        translation.activate(language)  # the confirmation in the language just chosen
        messages.success(self.request, MSG_SETTINGS_SAVED)
        response = HttpResponseRedirect(reverse("accounts:settings"))
        # The cookies too, so the choice still holds on this device after signing out.
        _language_cookie_set(response, language)
        currency_cookie_set(response, form.cleaned_data["currency"])
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["mfa_enabled"] = is_mfa_enabled(self.request.user)
        return context
