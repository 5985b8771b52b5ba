from allauth.account.views import LoginView as AllauthLoginView
from allauth.core.ratelimit import respond_429
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from . import services
from .forms import LanguageForm


class LoginView(AllauthLoginView):
    """allauth's login, with "too many failed attempts" answered 429 rather than a form error."""

    def form_invalid(self, form: BaseForm) -> HttpResponse:
        if form.has_error("__all__", code="too_many_login_attempts"):
            return respond_429(self.request)
        return super().form_invalid(form)


@require_POST
def language_set_view(request: HttpRequest) -> HttpResponse:
    """Django's set_language (cookie, safe redirect), plus the choice saved on the profile."""
    response = set_language(request)
    form = LanguageForm(request.POST)
    if form.is_valid() and request.user.is_authenticated:
        services.user_set_language(user=request.user, language=form.cleaned_data["language"])
    return response
