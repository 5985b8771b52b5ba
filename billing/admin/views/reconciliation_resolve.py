"""Resolving a reconciliation run's discrepancies from its page (billing.services.gateway_refunds).

Both pages need billing.run_reconciliation (403 otherwise):
- "Ask the gateway now" (`billing_reconciliationrun_ask_gateway`, POST from the run's page) for
  a payment missing in the ledger: the gateway's answer is applied and its status reported;
- "Book this refund" (`billing_reconciliationrun_book_refund`) for a refund made at the gateway
  only: a page with the figures and a required note, then one ledger entry.
An item that does not exist sends back to the runs with a message.
"""

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from billing.admin.common import money_html
from billing.admin.views.reconciliation import RUN_PERMISSION, FinanceAdminView, mounted_view
from billing.exceptions import PaymentError, ReconciliationRefused
from billing.gateways import GatewayError
from billing.models import Payment, ReconciliationItem
from billing.services.gateway_refunds import gateway_refund_book, reconciliation_payment_ask

Kind = ReconciliationItem.Kind
Result = ReconciliationItem.Result

BOOK_TITLE = _("Book a refund made at the gateway")
NO_ITEM = _("That reconciliation item does not exist.")
NOT_BOOKABLE = _("This item cannot be booked as a refund.")
ASKED = _("The gateway was asked: payment %(receipt)s is now %(status)s.")
ASK_FAILED = _("The gateway could not be asked: %(error)s")
BOOKED = _("Refund %(reference)s booked in the ledger as entry #%(entry)s.")


class RefundBookForm(forms.Form):
    note = forms.CharField(
        label=_("Why"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Who made this refund at the gateway and why; kept with the entry."),
    )


def can_ask(item: ReconciliationItem) -> bool:
    return (
        item.kind == Kind.PAYMENT
        and item.result == Result.MISSING_IN_LEDGER
        and item.payment_id is not None
        and item.resolved_at is None
    )


def can_book(item: ReconciliationItem) -> bool:
    return (
        item.kind == Kind.REFUND
        and item.result == Result.MISSING_IN_LEDGER
        and item.payment_id is not None
        and item.refund_id is None
        and item.resolved_at is None
    )


class ItemView(FinanceAdminView):
    """A page about one item of a run; `<id>` is the item's."""

    permission = RUN_PERMISSION

    def item_get(self, item_id: str) -> ReconciliationItem | None:
        if not item_id.isdigit():
            return None
        return (
            ReconciliationItem.objects.select_related("run", "payment", "payment__customer")
            .filter(pk=int(item_id))
            .first()
        )

    def back(self, item: ReconciliationItem | None, request: HttpRequest) -> HttpResponse:
        if item is None:
            messages.error(request, NO_ITEM)
            return HttpResponseRedirect(reverse("admin:billing_reconciliationrun_changelist"))
        return HttpResponseRedirect(
            reverse("admin:billing_reconciliationrun_change", args=[item.run_id])
        )


class PaymentAskView(ItemView):
    def get(self, request: HttpRequest, id: str) -> HttpResponse:
        # A button on the run's page posts here; opening the address just goes back there.
        return self.back(self.item_get(id), request)

    def post(self, request: HttpRequest, id: str) -> HttpResponse:
        item = self.item_get(id)
        if item is None:
            return self.back(item, request)
        try:
            payment = reconciliation_payment_ask(item_id=item.pk, asked_by=cast(User, request.user))
        except ReconciliationRefused as refused:
            messages.error(request, str(refused))
        except (GatewayError, PaymentError) as error:
            messages.error(request, ASK_FAILED % {"error": error})
        else:
            report = ASKED % {
                "receipt": payment.receipt_number,
                "status": payment.get_status_display(),
            }
            level = messages.SUCCESS if payment.is_captured else messages.WARNING
            messages.add_message(request, level, report)
        return self.back(item, request)


class RefundBookView(ItemView):
    template_name = "admin/billing/reconciliationrun/book_refund.html"
    title = BOOK_TITLE

    def get(self, request: HttpRequest, id: str) -> HttpResponse:
        item = self.item_get(id)
        if item is None or not can_book(item):
            if item is not None:
                messages.error(request, NOT_BOOKABLE)
            return self.back(item, request)
        return self.page(request, RefundBookForm(), item)

    def post(self, request: HttpRequest, id: str) -> HttpResponse:
        item = self.item_get(id)
        if item is None:
            return self.back(item, request)
        form = RefundBookForm(request.POST)
        if not form.is_valid():
            return self.page(request, form, item)
        try:
            entry = gateway_refund_book(
                item_id=item.pk, booked_by=cast(User, request.user), note=form.cleaned_data["note"]
            )
        except ReconciliationRefused as refused:
            form.add_error(None, str(refused))
            return self.page(request, form, item)
        messages.success(request, BOOKED % {"reference": item.reference, "entry": entry.pk})
        return self.back(item, request)

    def page(
        self, request: HttpRequest, form: forms.Form, item: ReconciliationItem
    ) -> TemplateResponse:
        response = self.render(request, form)
        payment = item.payment
        assert response.context_data is not None
        response.context_data.update(
            {
                "item": item,
                "run": item.run,
                "payment": payment,
                "refunded": money_html(
                    -(item.gateway_amount or Decimal(0)), item.gateway_currency or item.currency
                ),
                "from_wallet": payment is not None
                and payment.purpose == Payment.Purpose.WALLET_TOPUP,
            }
        )
        return response


def resolution_urls(model_admin: Any) -> list[URLPattern]:
    return [
        path(
            "items/<id>/ask-gateway/",
            mounted_view(model_admin, PaymentAskView),
            name="billing_reconciliationrun_ask_gateway",
        ),
        path(
            "items/<id>/book-refund/",
            mounted_view(model_admin, RefundBookView),
            name="billing_reconciliationrun_book_refund",
        ),
    ]
