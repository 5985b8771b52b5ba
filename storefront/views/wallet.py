"""The storefront's pages. Each view: a form validates (every 4xx comes from it), one service
call, then a redirect or a page. Payments are looked up through the customer's own selectors,
so another customer's top-up is a 404."""

import re
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from accounts.mixins import VerifiedEmailRequiredMixin
from billing.exceptions import PaymentError
from billing.gateways import checkout_gateway
from billing.models import Payment
from billing.selectors.ledger import wallet_balance, wallet_balances
from billing.selectors.payments import customer_receipt, customer_topup, customer_topups
from billing.services.topups import topup_currencies, topup_start
from storefront.forms.topup import OTHER, TopupForm, default_topup_currency
from storefront.views.common import customer_of

LATEST_TOPUPS = 5
HISTORY_PAGE_SIZE = 20
AMOUNT_PARAM = re.compile(r"\d{1,12}(\.\d{1,2})?")


def _topup_or_404(request: HttpRequest, public_id: UUID) -> Payment:
    payment = customer_topup(user=customer_of(request), public_id=public_id)
    if payment is None:
        raise Http404
    return payment


class WalletView(VerifiedEmailRequiredMixin, TemplateView):
    """/wallet/: what the wallet holds in each currency, and the latest top-ups."""

    template_name = "storefront/wallet.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        customer = customer_of(self.request)
        return super().get_context_data(
            balances=wallet_balances(user=customer),
            topups=customer_topups(user=customer)[:LATEST_TOPUPS],
            **kwargs,
        )


class TopupView(VerifiedEmailRequiredMixin, View):
    """/wallet/topup/: choose an amount and a method, then off to the gateway's page."""

    template_name = "storefront/topup.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        # ?amount= (the order page's "top up the difference") fills in the other amount.
        amount = request.GET.get("amount", "")
        initial = (
            {"preset": OTHER, "custom_amount": amount} if AMOUNT_PARAM.fullmatch(amount) else {}
        )
        return self.render(request, TopupForm(currency=self.currency(request), initial=initial))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TopupForm(request.POST, currency=self.currency(request))
        if not form.is_valid():
            return self.render(request, form)
        cancel_url = request.build_absolute_uri(
            reverse("storefront:topup") + f"?currency={form.currency_code}"
        )
        try:
            payment = topup_start(
                customer=customer_of(request),
                amount=form.money,
                method=form.cleaned_data["method"],
                request_token=form.cleaned_data["request_token"],
                return_url=lambda p: request.build_absolute_uri(
                    reverse("storefront:topup-detail", args=[p.public_id])
                ),
                cancel_url=cancel_url,
                webhook_url=request.build_absolute_uri(
                    reverse("billing:webhook", args=[checkout_gateway().name])
                ),
            )
        except PaymentError as error:
            form.add_error(None, str(error))
            form.renew_token()
            return self.render(request, form)
        if payment.is_open and payment.redirect_url:
            return HttpResponseRedirect(payment.redirect_url)
        # A second submission of a page already paid: show what became of the first.
        return HttpResponseRedirect(reverse("storefront:topup-detail", args=[payment.public_id]))

    def currency(self, request: HttpRequest) -> str:
        asked = request.GET.get("currency", "")
        if asked in topup_currencies():
            return asked
        return default_topup_currency(customer_of(request).preferred_currency)

    def render(self, request: HttpRequest, form: TopupForm) -> HttpResponse:
        return render(
            request,
            self.template_name,
            {"form": form, "currencies": topup_currencies(), "preview": form.bonus_preview()},
        )


class TopupDetailView(VerifiedEmailRequiredMixin, View):
    """/wallet/topups/<id>/: where the gateway sends the customer back; waits for the outcome."""

    template_name = "storefront/topup_detail.html"

    def get(self, request: HttpRequest, public_id: UUID) -> HttpResponse:
        payment = _topup_or_404(request, public_id)
        balance = (
            wallet_balance(user=customer_of(request), currency=payment.currency)
            if payment.is_captured
            else None
        )
        return render(request, self.template_name, {"payment": payment, "balance": balance})


class TopupStatusView(VerifiedEmailRequiredMixin, View):
    """/wallet/topups/<id>/status/: what the return page polls."""

    def get(self, request: HttpRequest, public_id: UUID) -> JsonResponse:
        payment = _topup_or_404(request, public_id)
        return JsonResponse(
            {
                "status": payment.status,
                "label": str(payment.get_status_display()),
                "final": not payment.is_open,
            },
            headers={"Cache-Control": "no-store"},
        )


class TopupHistoryView(VerifiedEmailRequiredMixin, View):
    """/wallet/history/: every top-up, newest first, 20 a page."""

    template_name = "storefront/topup_history.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        topups = customer_topups(user=customer_of(request))
        page = Paginator(topups, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
        return render(request, self.template_name, {"page": page, "topups": page.object_list})


class TopupReceiptView(VerifiedEmailRequiredMixin, View):
    """/wallet/topups/<id>/receipt/: a printable receipt for a top-up that was paid."""

    template_name = "storefront/topup_receipt.html"

    def get(self, request: HttpRequest, public_id: UUID) -> HttpResponse:
        payment = customer_receipt(user=customer_of(request), public_id=public_id)
        if payment is None:
            raise Http404
        return render(
            request, self.template_name, {"payment": payment, "seller": settings.SIMDESK_SELLER}
        )
