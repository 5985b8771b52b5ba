"""The customer's eSIMs (how to install each, its bundles, a refund request), topping up a
card by its number, and the cards kept on the account.

Each view: a form validates (every 4xx comes from it), one service call, then a redirect or
a page. eSIMs are looked up through the customer's own selectors: another customer's is a 404.
"""

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from accounts.mixins import VerifiedEmailRequiredMixin
from billing.exceptions import OrderError, RefundRefused
from billing.selectors.esims import (
    Phase,
    bundle_timeline,
    card_expiry,
    customer_cards,
    esim_refunds,
    renewal_price,
)
from billing.services.orders import order_place
from billing.services.refunds import esim_refund_line, refund_request
from catalog.exceptions import CardUnavailable
from catalog.install import ios_install_url, qr_svg_data_uri
from catalog.models import EsimProfile
from catalog.selectors import (
    card_addons,
    card_bundles,
    card_current_bundle,
    customer_esims,
)
from catalog.services import card_bind, card_unbind
from storefront.forms.cards import (
    ADDON,
    RENEWAL,
    CardBindForm,
    CardLookupForm,
    CardTopupBuyForm,
    RefundRequestForm,
    option_value,
    page_currency,
)
from storefront.views.common import customer_of, esim_or_404
from storefront.views.renewals import card_renewable, is_number_keeping, renewal_panel_context

# --- My eSIMs ------------------------------------------------------------------------


class EsimListView(VerifiedEmailRequiredMixin, View):
    """/esims/: every eSIM the customer bought, with its plan, status, bundle and expiry."""

    template_name = "storefront/esim_list.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        rows = []
        for profile in customer_esims(customer=customer_of(request)):
            bundles = list(profile.bundles.all())  # prefetched, in the order they run
            rows.append(
                {
                    "profile": profile,
                    "current": card_current_bundle(bundles),
                    "expiry": card_expiry(bundles),
                    "renewable": card_renewable(profile),
                    "number_keeping": is_number_keeping(profile),
                }
            )
        return render(request, self.template_name, {"rows": rows})


class EsimDetailView(VerifiedEmailRequiredMixin, View):
    """/esims/<iccid>/: how to install it, its bundles, and its refund."""

    template_name = "storefront/esim_detail.html"

    def get(self, request: HttpRequest, iccid: str) -> HttpResponse:
        profile = esim_or_404(request, iccid)
        return self.render(request, profile, RefundRequestForm())

    def render(
        self, request: HttpRequest, profile: EsimProfile, form: RefundRequestForm
    ) -> HttpResponse:
        customer = customer_of(request)
        bundles = card_bundles(profile=profile)
        current = card_current_bundle(bundles)
        try:
            esim_refund_line(customer=customer, profile=profile)
            refundable = True
        except RefundRefused:
            refundable = False  # why not is no error: the policy is shown instead
        code = profile.activation_code
        installable = profile.status in (EsimProfile.Status.ASSIGNED, EsimProfile.Status.INSTALLED)
        return render(
            request,
            self.template_name,
            {
                "profile": profile,
                "plan": profile.plan,
                "installable": installable,
                "activation_code": code,
                "qr_uri": qr_svg_data_uri(code) if installable else "",
                "ios_url": ios_install_url(code),
                "timeline": bundle_timeline(bundles, current),
                "current": current,
                "expiry": card_expiry(bundles),
                "refundable": refundable,
                "refund_form": form,
                "refunds": list(esim_refunds(customer=customer, profile=profile)),
                "refund_window_days": settings.SIMDESK_REFUND_WINDOW_DAYS,
                "topup_url": reverse("storefront:card-topup")
                + "?"
                + urlencode({"iccid": profile.iccid}),
                **renewal_panel_context(request, profile),
            },
        )


class EsimRefundView(VerifiedEmailRequiredMixin, View):
    """POST /esims/<iccid>/refund/: ask for the eSIM's money back; finance decides."""

    def post(self, request: HttpRequest, iccid: str) -> HttpResponse:
        profile = esim_or_404(request, iccid)
        form = RefundRequestForm(request.POST)
        if not form.is_valid():
            return EsimDetailView().render(request, profile, form)
        try:
            refund_request(
                customer=customer_of(request), profile=profile, reason=form.cleaned_data["reason"]
            )
        except RefundRefused as refused:
            messages.error(request, str(refused))
        else:
            messages.success(
                request, _("Your refund request was sent. We will email you when it is decided.")
            )
        return HttpResponseRedirect(reverse("storefront:esim-detail", args=[profile.iccid]))


# --- Top-up by card number -------------------------------------------------------------


def _card_context(profile: EsimProfile, currency: str) -> dict[str, Any]:
    """What the top-up page shows about a card found: plan, bundles, what can be bought."""
    bundles = card_bundles(profile=profile)
    current = card_current_bundle(bundles)
    addons = list(card_addons(profile=profile, currency=currency))
    options = [
        {
            "value": option_value(ADDON, addon),
            "plan": addon,
            "price": addon.price_amount,  # type: ignore[attr-defined]
            "mode": addon.get_addon_mode_display(),
            "renewal": False,
        }
        for addon in addons
    ]
    plan = profile.plan
    price = renewal_price(plan=plan, currency=currency)
    if price is not None:
        options.append(
            {
                "value": option_value(RENEWAL, plan),
                "plan": plan,
                "price": price,
                "mode": _("A new period of this plan after the current one"),
                "renewal": True,
            }
        )
    return {
        "profile": profile,
        "plan": plan,
        "timeline": [row for row in bundle_timeline(bundles, current) if row.phase != Phase.PAST],
        "expiry": card_expiry(bundles),
        "options": options,
        "currency": currency,
    }


class CardTopupView(View):
    """/topup-card/: anyone may look a card up by its number; buying needs an account."""

    template_name = "storefront/card_topup.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        customer = customer_of(request) if request.user.is_authenticated else None
        currency = page_currency(request.GET.get("currency", ""), request.user)
        searched = bool(request.GET.get("iccid") or request.GET.get("card"))
        lookup = CardLookupForm(request.GET if searched else None, customer=customer)
        context: dict[str, Any] = {"lookup": lookup, "currency": currency, "card": None}
        if searched and lookup.is_valid() and lookup.profile is not None:
            context["card"] = _card_context(lookup.profile, currency)
            context["buy"] = CardTopupBuyForm(
                customer=customer,
                initial={"iccid": lookup.cleaned_data["number"], "currency": currency},
            )
        return render(request, self.template_name, context)


class CardTopupBuyView(VerifiedEmailRequiredMixin, View):
    """POST /topup-card/buy/: place the order for the chosen add-on, then off to pay it."""

    template_name = "storefront/card_topup.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not request.user.is_authenticated:
            # Back to the card's page after signing in, with the number as typed.
            typed = request.POST.get("iccid", "")
            back = reverse("storefront:card-topup") + (
                "?" + urlencode({"iccid": typed}) if typed else ""
            )
            return redirect_to_login(back)
        return super().dispatch(request, *args, **kwargs)

    def post(self, request: HttpRequest) -> HttpResponse:
        customer = customer_of(request)
        form = CardTopupBuyForm(request.POST, customer=customer)
        if not form.is_valid():
            return self.render(request, form)
        try:
            order = order_place(
                customer=customer,
                currency=form.cleaned_data["currency"],
                lines=[form.line()],
                request_token=form.cleaned_data["request_token"],
            )
        except OrderError as refused:
            form.add_error(None, str(refused))
            return self.render(request, form)
        return HttpResponseRedirect(reverse("storefront:order-detail", args=[order.public_id]))

    def render(self, request: HttpRequest, form: CardTopupBuyForm) -> HttpResponse:
        currency = form.data.get("currency", "")
        currency = page_currency(str(currency), request.user)
        lookup = CardLookupForm(
            customer=customer_of(request), initial={"iccid": form.data.get("iccid", "")}
        )
        context: dict[str, Any] = {
            "lookup": lookup,
            "currency": currency,
            "card": None,
            "buy": form,
        }
        if form.profile is not None:
            context["card"] = _card_context(form.profile, currency)
        else:
            context["card_error"] = form.errors.get("iccid")
        return render(request, self.template_name, context, status=200)


# --- Bound cards ---------------------------------------------------------------------


class CardListView(VerifiedEmailRequiredMixin, View):
    """/account/cards/: the cards kept on the account, and binding one more."""

    template_name = "storefront/card_list.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(request, CardBindForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CardBindForm(request.POST)
        if not form.is_valid():
            return self.render(request, form)
        try:
            binding = card_bind(
                customer=customer_of(request),
                iccid=form.cleaned_data["iccid"],
                label=form.cleaned_data["label"],
            )
        except CardUnavailable as unavailable:
            form.add_error("iccid", str(unavailable))
            return self.render(request, form)
        messages.success(
            request,
            _("Card %(iccid)s was added to your account.") % {"iccid": binding.profile.iccid},
        )
        return HttpResponseRedirect(reverse("storefront:cards"))

    def render(self, request: HttpRequest, form: CardBindForm) -> HttpResponse:
        rows = [
            {"binding": binding, "expiry": card_expiry(list(binding.profile.bundles.all()))}
            for binding in customer_cards(customer=customer_of(request))
        ]
        return render(request, self.template_name, {"form": form, "rows": rows})


class CardUnbindView(VerifiedEmailRequiredMixin, View):
    """POST /account/cards/<pk>/delete/: take a card off the account (the card itself stays)."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        card_unbind(customer=customer_of(request), binding_id=pk)
        messages.success(request, _("The card was removed from your account."))
        return HttpResponseRedirect(reverse("storefront:cards"))
