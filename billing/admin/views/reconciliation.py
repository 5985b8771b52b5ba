"""Finance's reconciliation pages: reconcile a gateway for a day or a range
(`reconciliation_run`) and record a payout the gateway made to the bank (`payout_record`).

A payout missing in a run's report links to the payout page with its figures filled in.
"""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import AdminSite, ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views import View
from djmoney.money import Money

from accounts.models import User
from billing.exceptions import PayoutRefused
from billing.forms import format_money
from billing.forms_reports import day_field, not_future
from billing.gateways import checkout_gateway
from billing.models import Payment, ReconciliationItem, ReconciliationRun
from billing.money import UnsupportedCurrency, is_exact, minor_exponent
from billing.services.payouts import PAYOUT_GATEWAYS, REFERENCE_MAX_LENGTH, payout_record
from billing.services.reconciliation import reconciliation_run

RUN_PERMISSION = "billing.run_reconciliation"
RECORD_PERMISSION = "billing.record_payout"
MAX_RANGE_DAYS = 31

RUN_TITLE = _("Reconcile a gateway")
RECORD_TITLE = _("Record a payout")
ERROR_END_BEFORE_START = _("The end date is before the start date.")
ERROR_RANGE_TOO_LONG = _("Reconcile at most %(days)s days at a time.")
ERROR_FUTURE = _("This date is in the future.")
ERROR_NOT_POSITIVE = _("Enter an amount above zero.")
ERROR_NEGATIVE = _("The fees cannot be negative.")
ERROR_INEXACT = _("%(currency)s amounts have at most %(places)s decimal places.")
ERROR_CURRENCY = _("The ledger does not keep %(currency)s.")
RAN_CLEAN = _("Reconciliation done: everything matches.")
RAN_DISCREPANCIES = _("Reconciliation done: %(count)s items do not match.")
RAN_FAILED = _("The gateway could not be reached: %(error)s")
RECORDED = _("Payout %(reference)s recorded: %(amount)s to the bank, %(fees)s in fees.")


def gateway_choices() -> list[tuple[str, Any]]:
    return [(g.value, g.label) for g in Payment.Gateway if g in PAYOUT_GATEWAYS]


class ReconcileForm(forms.Form):
    gateway = forms.ChoiceField(label=_("Gateway"), choices=gateway_choices)
    start = day_field(_("From"), help_text=_("A whole day in the shop's time zone (YYYY-MM-DD)."))
    end = day_field(
        _("To"),
        required=False,
        help_text=_("Leave empty for one day. At most 31 days from the start."),
    )

    def clean_start(self) -> date | None:
        return not_future(self.cleaned_data.get("start"), ERROR_FUTURE)

    def clean_end(self) -> date | None:
        return not_future(self.cleaned_data.get("end"), ERROR_FUTURE)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and not end and "end" not in self.errors:
            cleaned["end"] = end = start
        if start and end:
            if end < start:
                self.add_error("end", ERROR_END_BEFORE_START)
            elif (end - start).days >= MAX_RANGE_DAYS:
                self.add_error("end", ERROR_RANGE_TOO_LONG % {"days": MAX_RANGE_DAYS})
        return cleaned


class PayoutRecordForm(forms.Form):
    gateway = forms.ChoiceField(label=_("Gateway"), choices=gateway_choices)
    reference = forms.CharField(
        label=_("Payout reference"),
        max_length=REFERENCE_MAX_LENGTH,
        help_text=_("The gateway's id for the payout, e.g. po_… at Stripe."),
    )
    currency = forms.CharField(label=_("Currency"), max_length=3, min_length=3)
    paid_on = day_field(_("Paid on"), help_text=_("The day the money reached the bank."))
    amount = forms.DecimalField(label=_("Amount to the bank"), max_digits=16, decimal_places=2)
    fees = forms.DecimalField(
        label=_("Fees kept by the gateway"),
        max_digits=16,
        decimal_places=2,
        initial=Decimal(0),
        required=False,
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean_currency(self) -> str:
        currency = str(self.cleaned_data["currency"]).upper()
        try:
            minor_exponent(currency)
        except UnsupportedCurrency:
            raise forms.ValidationError(ERROR_CURRENCY % {"currency": currency}) from None
        return currency

    def clean_paid_on(self) -> date | None:
        return not_future(self.cleaned_data.get("paid_on"), ERROR_FUTURE)

    def clean_amount(self) -> Decimal:
        amount: Decimal = self.cleaned_data["amount"]
        if amount <= 0:
            raise forms.ValidationError(ERROR_NOT_POSITIVE)
        return amount

    def clean_fees(self) -> Decimal:
        fees: Decimal = self.cleaned_data.get("fees") or Decimal(0)
        if fees < 0:
            raise forms.ValidationError(ERROR_NEGATIVE)
        return fees

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        currency = cleaned.get("currency")
        if currency:
            for name in ("amount", "fees"):
                value = cleaned.get(name)
                if value is not None and not is_exact(Money(value, currency)):
                    places = minor_exponent(currency)
                    self.add_error(name, ERROR_INEXACT % {"currency": currency, "places": places})
        return cleaned


class FinanceAdminView(View):
    """A page mounted by a ModelAdmin's get_urls(); needs `permission` (403 otherwise)."""

    admin_site: AdminSite = admin.site
    model_admin: "ModelAdmin[Any] | None" = None
    permission = ""
    template_name = ""
    title: Any = ""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.has_perm(self.permission):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def render(self, request: HttpRequest, form: forms.Form) -> TemplateResponse:
        model_admin = self.model_admin
        assert model_admin is not None
        opts = model_admin.model._meta
        return TemplateResponse(
            request,
            self.template_name,
            {
                **self.admin_site.each_context(request),
                "title": str(self.title),
                "opts": opts,
                "app_label": opts.app_label,
                "has_view_permission": model_admin.has_view_permission(request),
                "form": form,
                "media": form.media,
            },
        )


class ReconcileView(FinanceAdminView):
    permission = RUN_PERMISSION
    template_name = "admin/billing/reconciliationrun/run.html"
    title = RUN_TITLE

    def get(self, request: HttpRequest) -> HttpResponse:
        yesterday = timezone.localdate() - timedelta(days=1)
        initial = {"gateway": checkout_gateway().name, "start": yesterday}
        return self.render(request, ReconcileForm(initial=initial))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ReconcileForm(request.POST)
        if not form.is_valid():
            return self.render(request, form)
        run = reconciliation_run(
            gateway=form.cleaned_data["gateway"],
            start=form.cleaned_data["start"],
            end=form.cleaned_data["end"],
            run_by=cast(User, request.user),
        )
        if run.status == ReconciliationRun.Status.FAILED:
            messages.error(request, RAN_FAILED % {"error": run.error})
        elif run.status == ReconciliationRun.Status.DISCREPANCIES:
            messages.warning(request, RAN_DISCREPANCIES % {"count": run.discrepancy_count})
        else:
            messages.success(request, RAN_CLEAN)
        return HttpResponseRedirect(
            reverse("admin:billing_reconciliationrun_change", args=[run.pk])
        )


class PayoutRecordView(FinanceAdminView):
    permission = RECORD_PERMISSION
    template_name = "admin/billing/gatewaypayout/record.html"
    title = RECORD_TITLE

    def get(self, request: HttpRequest) -> HttpResponse:
        # A missing payout's row in a run links here with its figures (?gateway=&reference=...).
        fields = ("gateway", "reference", "currency", "paid_on", "amount", "fees")
        initial = {name: request.GET[name] for name in fields if request.GET.get(name)}
        return self.render(request, PayoutRecordForm(initial=initial))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PayoutRecordForm(request.POST)
        if not form.is_valid():
            return self.render(request, form)
        data = form.cleaned_data
        currency = data["currency"]
        try:
            payout = payout_record(
                gateway=data["gateway"],
                reference=data["reference"],
                currency=currency,
                paid_on=data["paid_on"],
                amount_to_bank=Money(data["amount"], currency),
                fees=Money(data["fees"], currency),
                recorded_by=cast(User, request.user),
                note=data["note"],
            )
        except PayoutRefused as error:
            form.add_error(None, str(error))
            return self.render(request, form)
        messages.success(
            request,
            RECORDED
            % {
                "reference": payout.reference,
                "amount": format_money(payout.amount, currency),
                "fees": format_money(payout.fees, currency),
            },
        )
        return HttpResponseRedirect(reverse("admin:billing_gatewaypayout_changelist"))


def mounted_view(model_admin: "ModelAdmin[Any]", view_class: type[View]) -> Any:
    return model_admin.admin_site.admin_view(
        view_class.as_view(admin_site=model_admin.admin_site, model_admin=model_admin)
    )


def record_payout_url(item: ReconciliationItem, run: ReconciliationRun) -> str:
    """The payout page with a missing payout's figures filled in."""
    amount = -(item.gateway_amount or Decimal(0))
    query = {
        "gateway": run.gateway,
        "reference": item.reference,
        "currency": item.gateway_currency or item.currency,
        "paid_on": timezone.localtime(item.occurred_at).date().isoformat(),
        "amount": str(amount),
    }
    return f"{reverse('admin:billing_gatewaypayout_record')}?{urlencode(query)}"
