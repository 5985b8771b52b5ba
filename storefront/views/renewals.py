"""Keeping a card going: renewing it (also early: the new period is queued after the current
one), auto-renewal on its page, and changing its plan.

Each view: a form validates (every 4xx comes from it), one billing service call, then a
redirect (to the order page, to pay) or the page again with the refusal. eSIMs are looked up
through the customer's own selectors: another customer's is a 404.
"""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from accounts.mixins import VerifiedEmailRequiredMixin
from billing.exceptions import OrderError
from billing.selectors.esims import card_expiry
from billing.selectors.renewals import (
    auto_renewal_of,
    card_running_bundle,
    plan_change_credit,
    renewal_plans,
    saved_card,
)
from billing.services.orders import order_place
from billing.services.renewals import auto_renewal_disable, auto_renewal_set
from catalog.models import Bundle, EsimProfile, Plan
from catalog.selectors import USABLE_CARD_STATUSES, card_bundles
from storefront.forms.renewals import (
    ON,
    AutoRenewForm,
    PlanChangeForm,
    RenewForm,
    choose_currency,
    renewal_currencies,
)
from storefront.views.common import customer_of, esim_or_404


def _detail_url(profile: EsimProfile) -> str:
    return reverse("storefront:esim-detail", args=[profile.iccid])


def card_renewable(profile: EsimProfile) -> bool:
    """Whether the card's page offers renewal (a usable card whose plan renews)."""
    plan = profile.plan
    return (
        profile.status in USABLE_CARD_STATUSES and plan.renewable and plan.kind != Plan.Kind.TOPUP
    )


def is_number_keeping(profile: EsimProfile) -> bool:
    return profile.plan.kind == Plan.Kind.NUMBER_KEEPING


def _running_plan(profile: EsimProfile) -> tuple[Bundle | None, Plan]:
    """The bundle running now (if any) and the plan the card runs: its plan, else the card's."""
    running = card_running_bundle(profile)
    return running, (running.plan if running is not None else profile.plan)


def retry_text() -> str:
    """SIMDESK_RENEWAL_RETRY_HOURS as words: "6 h and 18 h"."""
    pieces = [_("%(hours)d h") % {"hours": hours} for hours in settings.SIMDESK_RENEWAL_RETRY_HOURS]
    if len(pieces) < 2:
        return "".join(pieces)
    return _("%(first)s and %(last)s") % {"first": ", ".join(pieces[:-1]), "last": pieces[-1]}


def renewal_panel_context(request: HttpRequest, profile: EsimProfile) -> dict[str, Any]:
    """What the eSIM page shows about renewing the card: the buttons, the keep-active date of
    a number-keeping card, and the auto-renewal panel."""
    customer = customer_of(request)
    renewable = card_renewable(profile)
    context: dict[str, Any] = {
        "renewable": renewable,
        "number_keeping": is_number_keeping(profile),
        "renew_url": reverse("storefront:esim-renew", args=[profile.iccid]),
        "change_url": reverse("storefront:esim-change", args=[profile.iccid]),
        "auto_renew_url": reverse("storefront:esim-auto-renew", args=[profile.iccid]),
        "auto": None,
    }
    if not renewable:
        return context
    auto = auto_renewal_of(profile=profile)
    _running, plan = _running_plan(profile)
    currencies = renewal_currencies(profile)
    currency = choose_currency(
        auto.currency if auto is not None else request.GET.get("currency", ""),
        currencies,
        customer.preferred_currency,
    )
    plans = list(renewal_plans(profile=profile, currency=currency)) if currency else []
    chosen = auto.plan_id if auto is not None else plan.pk
    context.update(
        {
            "auto": auto,
            "auto_currencies": currencies,
            "auto_currency": currency,
            "auto_plans": plans,
            "auto_plan_id": chosen if any(p.pk == chosen for p in plans) else None,
            "saved_card": saved_card(customer=customer),
            "lead_hours": settings.SIMDESK_RENEWAL_LEAD_HOURS,
            "retry_text": retry_text(),
        }
    )
    return context


class EsimRenewView(VerifiedEmailRequiredMixin, View):
    """/esims/<iccid>/renew/: renew the card (the new period starts when the current one
    ends); placing the order leads to its page, to pay."""

    template_name = "storefront/esim_renew.html"

    def get(self, request: HttpRequest, iccid: str) -> HttpResponse:
        profile = esim_or_404(request, iccid)
        currency = choose_currency(
            request.GET.get("currency", ""),
            renewal_currencies(profile),
            customer_of(request).preferred_currency,
        )
        _running, plan = _running_plan(profile)
        form = RenewForm(profile=profile, currency=currency, default_plan=plan)
        return self.render(request, profile, form)

    def post(self, request: HttpRequest, iccid: str) -> HttpResponse:
        profile = esim_or_404(request, iccid)
        form = RenewForm(request.POST, profile=profile, currency="")
        if not form.is_valid() or form.chosen is None:
            return self.render(request, profile, form)
        try:
            order = order_place(
                customer=customer_of(request),
                currency=form.cleaned_data["currency"],
                lines=[form.line()],
                request_token=form.cleaned_data["request_token"],
            )
        except OrderError as refused:
            form.add_error(None, str(refused))
            form.renew_token()
            return self.render(request, profile, form)
        return HttpResponseRedirect(reverse("storefront:order-detail", args=[order.public_id]))

    def render(self, request: HttpRequest, profile: EsimProfile, form: RenewForm) -> HttpResponse:
        bundles = card_bundles(profile=profile)
        return render(
            request,
            self.template_name,
            {
                "profile": profile,
                "plan": profile.plan,
                "form": form,
                "expiry": card_expiry(bundles),
                "renewable": card_renewable(profile),
                "number_keeping": is_number_keeping(profile),
            },
        )


class EsimAutoRenewView(VerifiedEmailRequiredMixin, View):
    """POST /esims/<iccid>/auto-renew/: turn the card's auto-renewal on (to a plan, in a
    currency) or off; back to the card's page with a message."""

    def post(self, request: HttpRequest, iccid: str) -> HttpResponse:
        profile = esim_or_404(request, iccid)
        form = AutoRenewForm(request.POST, profile=profile)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, str(error))
            return HttpResponseRedirect(_detail_url(profile))
        customer = customer_of(request)
        if form.cleaned_data["action"] == ON:
            assert form.chosen is not None
            try:
                auto_renewal_set(
                    customer=customer,
                    profile=profile,
                    plan=form.chosen,
                    currency=form.cleaned_data["currency"],
                )
            except OrderError as refused:
                messages.error(request, str(refused))
            else:
                messages.success(
                    request,
                    _("Auto-renewal is on: %(plan)s, paid in %(currency)s.")
                    % {"plan": form.chosen.display_name, "currency": form.cleaned_data["currency"]},
                )
        else:
            auto_renewal_disable(customer=customer, profile=profile)
            messages.success(request, _("Auto-renewal is off."))
        return HttpResponseRedirect(_detail_url(profile))


class EsimChangeView(VerifiedEmailRequiredMixin, View):
    """/esims/<iccid>/change/: change the card's plan, now (the unused share of the current
    bundle is credited to the wallet) or when the current period ends."""

    template_name = "storefront/esim_change.html"

    def get(self, request: HttpRequest, iccid: str) -> HttpResponse:
        profile = esim_or_404(request, iccid)
        return self.render(request, self.form(request, profile, None))

    def post(self, request: HttpRequest, iccid: str) -> HttpResponse:
        profile = esim_or_404(request, iccid)
        form = self.form(request, profile, request.POST)
        if not form.is_valid() or form.chosen is None:
            return self.render(request, form)
        try:
            order = order_place(
                customer=customer_of(request),
                currency=form.currency,
                lines=[form.line()],
                request_token=form.cleaned_data["request_token"],
            )
        except OrderError as refused:
            form.add_error(None, str(refused))
            form.renew_token()
            return self.render(request, form)
        return HttpResponseRedirect(reverse("storefront:order-detail", args=[order.public_id]))

    def form(self, request: HttpRequest, profile: EsimProfile, data: Any) -> PlanChangeForm:
        """The form, in the credit's currency if the running bundle gives one back, else in
        the customer's preferred one."""
        running, plan = _running_plan(profile)
        credit = plan_change_credit(bundle=running)
        if credit is not None:
            currency = str(credit.currency)
        else:
            currency = choose_currency(
                "", renewal_currencies(profile), customer_of(request).preferred_currency
            )
        return PlanChangeForm(
            data, profile=profile, currency=currency, running=running, plan=plan, credit=credit
        )

    def render(self, request: HttpRequest, form: PlanChangeForm) -> HttpResponse:
        return render(
            request,
            self.template_name,
            {
                "profile": form.profile,
                "plan": form.running_plan,
                "running": form.running,
                "credit": form.credit,
                "currency": form.currency,
                "form": form,
                "renewable": card_renewable(form.profile),
            },
        )
