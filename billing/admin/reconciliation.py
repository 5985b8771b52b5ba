"""Gateway reconciliation and payouts in the staff console.

Runs and payouts are read-only. Finance run a reconciliation for a day or a range on the
"Reconcile" page (`reconciliation_run`) and record a payout the gateway made to the bank on
the "Record a payout" page (`payout_record`); a payout missing in a run's report links to that
page with its figures filled in. A payment or a refund missing in the ledger is resolved from
the run's page (billing.admin.reconciliation_resolve).
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
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.views import View
from djmoney.money import Money

from accounts.models import User
from billing.admin.common import ReadOnlyAdminMixin, change_link, money_html
from billing.exceptions import PayoutRefused
from billing.forms import format_money
from billing.gateways import checkout_gateway
from billing.models import GatewayPayout, Payment, ReconciliationItem, ReconciliationRun
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


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


def _not_future(value: date) -> date:
    if value > timezone.localdate():
        raise forms.ValidationError(ERROR_FUTURE, code="future")
    return value


class ReconcileForm(forms.Form):
    gateway = forms.ChoiceField(label=_("Gateway"), choices=gateway_choices)
    start = forms.DateField(
        widget=DateInput(),
        label=_("From"),
        help_text=_("A whole day in the shop's time zone (YYYY-MM-DD)."),
    )
    end = forms.DateField(
        widget=DateInput(),
        label=_("To"),
        required=False,
        help_text=_("Leave empty for one day. At most 31 days from the start."),
    )

    def clean_start(self) -> date:
        return _not_future(self.cleaned_data["start"])

    def clean_end(self) -> date | None:
        end = self.cleaned_data.get("end")
        return _not_future(end) if end else None

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
    paid_on = forms.DateField(
        widget=DateInput(), label=_("Paid on"), help_text=_("The day the money reached the bank.")
    )
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

    def clean_paid_on(self) -> date:
        return _not_future(self.cleaned_data["paid_on"])

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


def _view(model_admin: "ModelAdmin[Any]", view_class: type[View]) -> Any:
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


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "status",
        "matched_count",
        "missing_in_ledger_count",
        "missing_at_gateway_count",
        "mismatch_count",
        "ran_at",
        "run_by",
    )
    list_filter = ("status", "gateway")
    list_select_related = ("run_by",)
    date_hierarchy = "start"
    fields = (
        "gateway",
        "start",
        "end",
        "status",
        "error",
        "matched_count",
        "missing_in_ledger_count",
        "missing_at_gateway_count",
        "mismatch_count",
        "ran_at",
        "run_by",
    )
    readonly_fields = fields

    def get_urls(self) -> list[URLPattern]:
        # Imported here: that module builds on this one's FinanceAdminView.
        from billing.admin.reconciliation_resolve import resolution_urls

        # Before the admin's own URLs, whose "<object_id>/" would take "run/".
        return [
            path("run/", _view(self, ReconcileView), name="billing_reconciliationrun_run"),
            *resolution_urls(self),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        run = self.get_object(request, object_id)
        extra: dict[str, Any] = dict(extra_context or {})
        if run is not None:
            extra["item_groups"] = self._item_groups(request, run)
            extra["totals"] = sorted(run.totals.items())
        return super().change_view(request, object_id, form_url, extra)

    def _item_groups(self, request: HttpRequest, run: ReconciliationRun) -> list[dict[str, Any]]:
        from billing.admin.reconciliation_resolve import can_ask, can_book

        items = run.items.select_related(
            "payment", "refund", "entry", "payout", "resolved_entry", "resolved_by"
        ).order_by("occurred_at", "pk")
        may_record = request.user.has_perm(RECORD_PERMISSION)
        may_resolve = request.user.has_perm(RUN_PERMISSION)
        groups: dict[str, list[dict[str, Any]]] = {r.value: [] for r in ReconciliationItem.Result}
        for item in items:
            record_url = ""
            if (
                may_record
                and item.kind == ReconciliationItem.Kind.PAYOUT
                and item.result == ReconciliationItem.Result.MISSING_IN_LEDGER
            ):
                record_url = record_payout_url(item, run)
            groups[item.result].append(
                {
                    "item": item,
                    "ledger": money_html(item.ledger_amount, item.currency),
                    "gateway": money_html(
                        item.gateway_amount, item.gateway_currency or item.currency
                    ),
                    "fee": money_html(item.gateway_fee, item.gateway_currency or item.currency),
                    "links": _links(item),
                    "record_url": record_url,
                    "ask_url": reverse(
                        "admin:billing_reconciliationrun_ask_gateway", args=[item.pk]
                    )
                    if may_resolve and can_ask(item)
                    else "",
                    "book_url": reverse(
                        "admin:billing_reconciliationrun_book_refund", args=[item.pk]
                    )
                    if may_resolve and can_book(item)
                    else "",
                    "resolved_link": change_link(item.resolved_entry, f"#{item.resolved_entry.pk}")
                    if item.resolved_entry is not None
                    else "",
                }
            )
        return [
            {"result": result, "label": result.label, "rows": groups[result.value]}
            for result in ReconciliationItem.Result
            if groups[result.value]
        ]


def _links(item: ReconciliationItem) -> list[SafeString]:
    links = []
    if item.payment is not None:
        links.append(change_link(item.payment, item.payment.receipt_number))
    if item.refund is not None:
        links.append(change_link(item.refund, item.refund.number))
    if item.entry is not None:
        links.append(change_link(item.entry, f"#{item.entry.pk}"))
    if item.payout is not None:
        links.append(change_link(item.payout, item.payout.reference))
    return links


@admin.register(GatewayPayout)
class GatewayPayoutAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "reference",
        "gateway",
        "paid_on",
        "amount_cell",
        "fees_cell",
        "entry_link",
        "recorded_by",
        "created_at",
    )
    list_filter = ("gateway", "currency")
    list_select_related = ("entry", "recorded_by")
    search_fields = ("reference",)
    date_hierarchy = "paid_on"
    fields = (
        "gateway",
        "reference",
        "currency",
        "amount",
        "fees",
        "paid_on",
        "entry",
        "recorded_by",
        "note",
        "created_at",
    )
    readonly_fields = fields

    def get_urls(self) -> list[URLPattern]:
        return [
            path("record/", _view(self, PayoutRecordView), name="billing_gatewaypayout_record"),
            *super().get_urls(),
        ]

    @admin.display(description=_("amount to the bank"), ordering="amount")
    def amount_cell(self, obj: GatewayPayout) -> SafeString | str:
        return money_html(obj.amount, obj.currency)

    @admin.display(description=_("fees"), ordering="fees")
    def fees_cell(self, obj: GatewayPayout) -> SafeString | str:
        return money_html(obj.fees, obj.currency)

    @admin.display(description=_("journal entry"))
    def entry_link(self, obj: GatewayPayout) -> SafeString:
        return change_link(obj.entry, format_html("#{}", obj.entry_id))
