"""What every storefront view module needs: the signed-in customer, and one of their eSIMs."""

from typing import cast

from django.http import Http404, HttpRequest

from accounts.models import User
from billing.selectors.esims import customer_esim
from catalog.models import EsimProfile


def customer_of(request: HttpRequest) -> User:
    """The signed-in customer (the views that call it require a signed-in user)."""
    return cast(User, request.user)


def esim_or_404(request: HttpRequest, iccid: str) -> EsimProfile:
    """The customer's eSIM with this ICCID; another customer's, or none, is a 404."""
    profile = customer_esim(customer=customer_of(request), iccid=iccid)
    if profile is None:
        raise Http404
    return profile
