from typing import Any

from allauth.account.decorators import verified_email_required
from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import method_decorator


@method_decorator(verified_email_required, name="dispatch")
class VerifiedEmailRequiredMixin:
    """For every page that takes money: signed in, with a verified email address.

    An unverified visitor is shown allauth's "verify your email" page and sent a new link.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
