"""Help pages: how to install and use an eSIM, the device compatibility checker, and support
requests (the contact form and the customer's own requests).

/help/ and /devices/ are the same for everyone (no form token: they may be cached). The
contact form is a form -> one service call -> redirect; a customer's requests are looked up
through their own selectors, so another customer's is a 404.
"""

import contextlib
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from accounts.models import User
from billing.exceptions import OrderError
from billing.selectors.support import customer_support_request, customer_support_requests
from billing.services.support import support_request_create
from catalog.models import Device, Plan
from catalog.selectors.devices import device_brands, device_search
from storefront.forms.devices import DeviceSearchForm
from storefront.forms.support import ORDER_PREFIX, SupportRequestForm

DEVICE_RESULTS = 20
REQUESTS_PER_PAGE = 20
# Visitors (not signed in) may send this many requests an hour from one address.
ANONYMOUS_REQUESTS_PER_HOUR = 5
RATE_WINDOW_SECONDS = 3600
RATE_KEY = "storefront:support-contact:{ip}"


class HelpView(TemplateView):
    """/help/: install steps, when validity starts, the refund policy, where to get help."""

    template_name = "storefront/help.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(
            refund_days=settings.SIMDESK_REFUND_WINDOW_DAYS,
            on_install=Plan.ActivationPolicy.ON_INSTALL.label,
            on_first_use=Plan.ActivationPolicy.ON_FIRST_USE.label,
            **kwargs,
        )


class DeviceCheckView(View):
    """/devices/?q=: does this phone take an eSIM? Brands and how to check when nothing matches."""

    template_name = "storefront/devices.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = DeviceSearchForm(request.GET)
        query = ""
        results: list[Device] = []
        if form.is_valid():
            query = form.cleaned_data["q"]
        if query:
            results = device_search(query, limit=DEVICE_RESULTS + 1)
        context = {
            "form": form,
            "query": query,
            "results": results[:DEVICE_RESULTS],
            "more": len(results) > DEVICE_RESULTS,
            "brands": [] if query else device_brands(),
            "Support": Device.Support,
        }
        return render(request, self.template_name, context)


def _client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _rate_limited(request: HttpRequest) -> bool:
    return int(cache.get(RATE_KEY.format(ip=_client_ip(request))) or 0) >= (
        ANONYMOUS_REQUESTS_PER_HOUR
    )


def _rate_count(request: HttpRequest) -> None:
    key = RATE_KEY.format(ip=_client_ip(request))
    if cache.add(key, 1, RATE_WINDOW_SECONDS):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired in between
        cache.add(key, 1, RATE_WINDOW_SECONDS)


class SupportRequestCreateView(View):
    """/help/contact/: ask us something; signed-in customers may pick one of their orders or
    top-ups (?order=<public id> preselects an order)."""

    template_name = "storefront/contact.html"

    def _customer(self, request: HttpRequest) -> User | None:
        return request.user if isinstance(request.user, User) else None

    def get(self, request: HttpRequest) -> HttpResponse:
        customer = self._customer(request)
        initial: dict[str, Any] = {}
        order_id = request.GET.get("order", "")
        if customer is not None and order_id:
            with contextlib.suppress(ValueError):  # not an id: nothing preselected
                initial["about"] = f"{ORDER_PREFIX}{UUID(order_id)}"
        form = SupportRequestForm(customer=customer, initial=initial)
        return render(request, self.template_name, {"form": form})

    def post(self, request: HttpRequest) -> HttpResponse:
        customer = self._customer(request)
        if customer is None and _rate_limited(request):
            return render(
                request, self.template_name, {"form": None, "rate_limited": True}, status=429
            )
        form = SupportRequestForm(request.POST, customer=customer)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        order, payment = form.related()
        data = form.cleaned_data
        try:
            support_request = support_request_create(
                customer=customer,
                email=data.get("email", ""),
                name=data.get("name", ""),
                topic=data["topic"],
                subject=data["subject"],
                message=data["message"],
                order=order,
                payment=payment,
                language=translation.get_language() or settings.LANGUAGE_CODE,
            )
        except OrderError as error:
            form.add_error(None, str(error))
            return render(request, self.template_name, {"form": form}, status=400)
        if customer is None:
            _rate_count(request)
            messages.success(
                request,
                _(
                    "Thank you. Your request number is %(number)s. We will answer by email "
                    "to %(email)s."
                )
                % {"number": support_request.number, "email": support_request.email},
            )
            return HttpResponseRedirect(reverse("storefront:contact"))
        messages.success(
            request,
            _("Thank you. Your request number is %(number)s. We will answer by email.")
            % {"number": support_request.number},
        )
        return HttpResponseRedirect(
            reverse("storefront:support-request", args=[support_request.public_id])
        )


class SupportRequestListView(LoginRequiredMixin, View):
    """/help/requests/: the customer's requests, newest first."""

    template_name = "storefront/support_request_list.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        requests = customer_support_requests(user=request.user)  # type: ignore[arg-type]
        page = Paginator(requests, REQUESTS_PER_PAGE).get_page(request.GET.get("page"))
        return render(
            request, self.template_name, {"page": page, "support_requests": page.object_list}
        )


class SupportRequestDetailView(LoginRequiredMixin, View):
    """/help/requests/<public id>/: one of the customer's requests; another's is a 404."""

    template_name = "storefront/support_request_detail.html"

    def get(self, request: HttpRequest, public_id: UUID) -> HttpResponse:
        support_request = customer_support_request(
            user=request.user,  # type: ignore[arg-type]
            public_id=public_id,
        )
        if support_request is None:
            raise Http404
        return render(request, self.template_name, {"support_request": support_request})
