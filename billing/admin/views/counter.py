"""Money received at the store counter or by bank transfer: staff record it and the
customer's wallet is credited at once, with any bonus tier.

Mounted by PaymentAdmin.get_urls(); needs billing.record_counter_payment. The page validates
with a form, makes one service call (`counter_topup_record`) and redirects to the payment.
"""

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin import AdminSite, ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views import View

from accounts.models import User
from billing.exceptions import TopupRefused
from billing.forms import COUNTER_ALREADY_SUBMITTED, CounterTopupForm, format_money
from billing.models import Payment
from billing.services.topups import counter_topup_record

COUNTER_PERMISSION = "billing.record_counter_payment"
COUNTER_TITLE = _("Record money received")
# What the wallet got, for each way the money came and whether a bonus tier added to it.
RECORDED = {
    (Payment.Method.CASH, False): _(
        "Recorded %(amount)s cash for %(customer)s; wallet credited %(credited)s."
    ),
    (Payment.Method.CASH, True): _(
        "Recorded %(amount)s cash for %(customer)s; wallet credited %(credited)s "
        "(incl. %(bonus)s bonus)."
    ),
    (Payment.Method.BANK_TRANSFER, False): _(
        "Recorded a bank transfer of %(amount)s for %(customer)s; wallet credited %(credited)s."
    ),
    (Payment.Method.BANK_TRANSFER, True): _(
        "Recorded a bank transfer of %(amount)s for %(customer)s; wallet credited %(credited)s "
        "(incl. %(bonus)s bonus)."
    ),
}


def payment_url(payment: Payment) -> str:
    return reverse("admin:billing_payment_change", args=[payment.pk])


class CounterTopupView(View):
    """payment/counter/: staff record cash taken at the counter or a bank transfer seen on the
    statement; the wallet is credited at once (cash on hand or bank against the wallet).

    Mounted by PaymentAdmin.get_urls() through `admin_site.admin_view`.
    """

    admin_site: AdminSite = admin.site
    model_admin: "ModelAdmin[Payment] | None" = None
    template_name = "admin/billing/payment/counter.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.has_perm(COUNTER_PERMISSION):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(request, CounterTopupForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CounterTopupForm(request.POST)
        if form.is_valid() and (done := self.record(request, form)) is not None:
            return done
        return self.render(request, form)

    def record(self, request: HttpRequest, form: CounterTopupForm) -> HttpResponse | None:
        """The service call: a redirect to the payment, or None with the refusal on the form."""
        customer = form.customer
        assert customer is not None  # clean_email found them
        method = Payment.Method(form.cleaned_data["method"])
        try:
            payment = counter_topup_record(
                customer=customer,
                amount=form.money,
                method=method,
                reference=form.cleaned_data["reference"],
                actor=cast(User, request.user),
                request_token=form.cleaned_data["token"],
            )
        except TopupRefused as error:
            form.add_error(None, str(error))
            return None
        if not form.matches(payment):
            # The token was used for other figures: the first payment stands, nothing new.
            form.add_error(None, COUNTER_ALREADY_SUBMITTED % {"receipt": payment.receipt_number})
            form.renew_token()
            return None
        currency = payment.currency
        messages.success(
            request,
            RECORDED[(method, payment.bonus > 0)]
            % {
                "amount": format_money(payment.amount, currency),
                "customer": customer.email,
                "credited": format_money(payment.credited_money.amount, currency),
                "bonus": format_money(payment.bonus, currency),
            },
        )
        return HttpResponseRedirect(payment_url(payment))

    def render(self, request: HttpRequest, form: CounterTopupForm) -> TemplateResponse:
        opts = Payment._meta
        model_admin = self.model_admin
        return TemplateResponse(
            request,
            self.template_name,
            {
                **self.admin_site.each_context(request),
                "title": str(COUNTER_TITLE),
                "opts": opts,
                "app_label": opts.app_label,
                "has_view_permission": model_admin is not None
                and model_admin.has_view_permission(request),
                "form": form,
                "media": form.media,
            },
        )
