"""The billing admin's own pages: an account's statement, Finance's wallet adjustments,
money received at the counter, and refunds (an order refunded by staff, a customer's request
approved or rejected).

Mounted by the ModelAdmins' get_urls() through `admin_site.admin_view`, which passes
`admin_site` and `model_admin` to `as_view`. The money pages validate with a form, make one
service call (`wallet_adjust`, `counter_topup_record`, `refund_issue`, `refund_approve`,
`refund_reject`) and redirect to what it wrote.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import AdminSite, ModelAdmin
from django.contrib.admin.utils import unquote
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views import View

from accounts.models import User
from billing.exceptions import (
    IdempotencyConflict,
    InsufficientFunds,
    LedgerError,
    RefundRefused,
    TopupRefused,
)
from billing.exports import statement_csv
from billing.forms import (
    ALREADY_SUBMITTED,
    COUNTER_ALREADY_SUBMITTED,
    REFUND_ALREADY_SUBMITTED,
    CounterTopupForm,
    OrderRefundForm,
    RefundApproveForm,
    RefundRejectForm,
    WalletAdjustForm,
    WalletOpenForm,
    format_money,
    insufficient_funds_message,
)
from billing.forms_reports import StatementPeriodForm
from billing.models import LedgerAccount, Order, Payment, Refund
from billing.selectors.ledger import StatementLine, account_statement
from billing.selectors.refunds import refund_facts_load
from billing.selectors.reports import PeriodLine, account_statement_period, day_end, day_start
from billing.services.refunds import refund_approve, refund_issue, refund_reject
from billing.services.topups import counter_topup_record
from billing.services.wallets import wallet_adjust, wallet_get
from catalog.models import Bundle, EsimProfile

ADJUST_PERMISSION = "billing.adjust_wallet"
STATEMENT_PER_PAGE = 50
PAGE_VAR = "p"

STATEMENT_TITLE = _("Statement of %(account)s")
ADJUST_TITLE = _("Adjust the wallet %(account)s")
OPEN_TITLE = _("Adjust a customer's wallet")
ACCOUNT_NOT_FOUND = _("There is no ledger account with this ID.")
NOT_A_WALLET = _("Only a customer's wallet can be adjusted.")
CREDITED = _("Credited %(amount)s to the wallet %(account)s of %(customer)s.")
DEBITED = _("Debited %(amount)s from the wallet %(account)s of %(customer)s.")


@dataclass(frozen=True)
class StatementRow:
    """A statement line with its figures formatted for the page."""

    line: StatementLine | PeriodLine
    debit: str
    credit: str
    balance: str


def statement_url(account: LedgerAccount) -> str:
    return reverse("admin:billing_ledgeraccount_statement", args=[account.pk])


class LedgerAdminView(View):
    admin_site: AdminSite = admin.site
    model_admin: "ModelAdmin[LedgerAccount] | None" = None
    template_name = ""

    def get_model_admin(self) -> "ModelAdmin[LedgerAccount]":
        assert self.model_admin is not None, "mounted by LedgerAccountAdmin.get_urls()"
        return self.model_admin

    def get_account(self, request: HttpRequest, object_id: str) -> LedgerAccount:
        account = self.get_model_admin().get_object(request, unquote(object_id))
        if account is None:
            raise Http404(ACCOUNT_NOT_FOUND)
        return account

    def render(self, request: HttpRequest, *, title: str, **context: Any) -> TemplateResponse:
        opts = LedgerAccount._meta
        return TemplateResponse(
            request,
            self.template_name,
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": opts,
                "app_label": opts.app_label,
                "has_view_permission": self.get_model_admin().has_view_permission(request),
                "may_adjust": request.user.has_perm(ADJUST_PERMISSION),
                **context,
            },
        )


class LedgerAccountStatementView(LedgerAdminView):
    """The account's postings, newest first, each with the balance it left; 50 a page."""

    template_name = "admin/billing/ledgeraccount/statement.html"

    def get(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        if not self.get_model_admin().has_view_permission(request):
            raise PermissionDenied
        account = self.get_account(request, object_id)
        form = StatementPeriodForm(request.GET)
        period = form.is_valid() and form.cleaned_data["date_from"] is not None
        start = day_start(form.cleaned_data["date_from"]) if period else None
        end = day_end(form.cleaned_data["date_to"]) if period else None
        if form.is_valid() and request.GET.get("format") == "csv":
            days = f"-{form.cleaned_data['date_from']}-{form.cleaned_data['date_to']}"
            return statement_csv(
                account=account,
                start=start,
                end=end,
                filename=f"statement-{account.code}{days if period else ''}.csv",
            )
        currency = account.currency
        context: dict[str, Any] = {}
        lines: list[Any] = []
        if start is not None and end is not None:
            in_period = account_statement_period(
                account=account,
                start=start,
                end=end,
                page=_page_number(request),
                per_page=STATEMENT_PER_PAGE,
            )
            lines, page = in_period.lines, in_period.page
            context["opening"] = format_money(in_period.opening, currency)
            context["closing"] = format_money(in_period.closing, currency)
        elif form.is_valid():
            statement = account_statement(
                account=account, page=_page_number(request), per_page=STATEMENT_PER_PAGE
            )
            lines, page = statement.lines, statement.page
        else:
            page = None
        rows = [
            StatementRow(
                line=line,
                debit=_money_or_blank(line.debit, currency),
                credit=_money_or_blank(line.credit, currency),
                balance=format_money(line.balance, currency),
            )
            for line in lines
        ]
        query = request.GET.copy()
        query.pop(PAGE_VAR, None)
        query.pop("format", None)
        page_query = f"{query.urlencode()}&" if query else ""
        return self.render(
            request,
            title=str(STATEMENT_TITLE % {"account": account.code}),
            account=account,
            balance=format_money(account.balance, currency),
            page=page,
            rows=rows,
            page_var=PAGE_VAR,
            page_query=page_query,
            csv_query=f"{page_query}format=csv",
            form=form,
            period=period,
            **context,
        )


def _money_or_blank(amount: Decimal | None, currency: str) -> str:
    return format_money(amount, currency) if amount is not None else ""


def _page_number(request: HttpRequest) -> int:
    try:
        return max(int(request.GET.get(PAGE_VAR, "1")), 1)
    except ValueError:
        return 1


class WalletAdjustmentBaseView(LedgerAdminView):
    """Finance credits or debits a wallet against the adjustments account."""

    template_name = "admin/billing/ledgeraccount/adjust.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.has_perm(ADJUST_PERMISSION):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def adjust(
        self, request: HttpRequest, form: WalletAdjustForm, wallet: LedgerAccount
    ) -> HttpResponse | None:
        """The service call: a redirect to the statement, or None with the refusal on the form."""
        try:
            wallet_adjust(
                wallet=wallet,
                amount=form.money,
                credit=form.is_credit,
                reason=form.reason_text,
                actor=cast(User, request.user),
                idempotency_key=form.idempotency_key,
            )
        except InsufficientFunds as error:
            form.add_error("amount", insufficient_funds_message(error))
            return None
        except IdempotencyConflict:
            form.add_error(None, ALREADY_SUBMITTED)
            form.renew_token()
            return None
        except LedgerError as error:
            form.add_error(None, str(error))
            return None
        done = CREDITED if form.is_credit else DEBITED
        owner = wallet.owner
        messages.success(
            request,
            done
            % {
                "amount": format_money(form.money.amount, wallet.currency),
                "account": wallet.code,
                "customer": owner.email if owner is not None else "",
            },
        )
        return HttpResponseRedirect(statement_url(wallet))


class WalletAdjustView(WalletAdjustmentBaseView):
    """ledgeraccount/<id>/adjust/: adjust this wallet."""

    def get(self, request: HttpRequest, object_id: str) -> HttpResponse:
        wallet = self.get_wallet(request, object_id)
        return self._render(request, WalletAdjustForm(currency=wallet.currency), wallet)

    def post(self, request: HttpRequest, object_id: str) -> HttpResponse:
        wallet = self.get_wallet(request, object_id)
        form = WalletAdjustForm(request.POST, currency=wallet.currency)
        if form.is_valid() and (done := self.adjust(request, form, wallet)) is not None:
            return done
        return self._render(request, form, wallet)

    def get_wallet(self, request: HttpRequest, object_id: str) -> LedgerAccount:
        account = self.get_account(request, object_id)
        if not account.is_wallet:
            raise Http404(NOT_A_WALLET)
        return account

    def _render(
        self, request: HttpRequest, form: WalletAdjustForm, wallet: LedgerAccount
    ) -> TemplateResponse:
        return self.render(
            request,
            title=str(ADJUST_TITLE % {"account": wallet.code}),
            form=form,
            media=form.media,
            account=wallet,
            balance=format_money(wallet.balance, wallet.currency),
        )


class WalletOpenView(WalletAdjustmentBaseView):
    """ledgeraccount/adjust/: adjust a customer's wallet found by email, opened if need be."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, WalletOpenForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = WalletOpenForm(request.POST)
        if form.is_valid():
            customer = form.customer
            assert customer is not None  # clean_email found them
            wallet = form.wallet or wallet_get(
                user=customer, currency=form.cleaned_data["currency"]
            )
            if (done := self.adjust(request, form, wallet)) is not None:
                return done
        return self._render(request, form)

    def _render(self, request: HttpRequest, form: WalletOpenForm) -> TemplateResponse:
        return self.render(request, title=str(OPEN_TITLE), form=form, media=form.media)


# --- Money received at the store counter or by bank transfer -------------------------------

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


# --- Orders and refunds: finance refund an order, approve or reject a request ------------

DECIDE_REFUND_PERMISSION = "billing.decide_refund"
ORDER_REFUND_TITLE = _("Refund order %(number)s")
REFUND_APPROVE_TITLE = _("Approve refund %(number)s")
REFUND_REJECT_TITLE = _("Reject refund %(number)s")
ORDER_NOT_FOUND = _("There is no order with this ID.")
REFUND_NOT_FOUND = _("There is no refund with this ID.")
REFUND_ALREADY_DECIDED = _("Refund %(number)s has already been decided.")
REFUNDED_TO_WALLET = _("Refund %(number)s: %(amount)s credited to the customer's wallet.")
REFUNDED_TO_ORIGINAL = _("Refund %(number)s: %(amount)s sent back to the original payment method.")
REFUND_SENDING = _("Refund %(number)s: %(amount)s is being sent to the payment gateway.")
REFUND_GATEWAY_FAILED = _(
    "Refund %(number)s failed at the payment gateway: %(message)s. Nothing was refunded."
)
REFUND_REJECTED = _("Refund %(number)s rejected; the customer has been told why.")
MEGABYTE = 1024 * 1024
ONCE_SECONDS = 24 * 60 * 60  # how long a refund page's token stays claimed


@dataclass(frozen=True)
class BundleUsage:
    """One bundle of the refunded eSIM, with its data used for finance to judge."""

    bundle: Bundle
    used: str
    allowance: str
    left: str


@dataclass(frozen=True)
class RefundFacts:
    """What finance look at beside a refund: the order's figures, its payment, the eSIM."""

    order: Order
    total: str
    refunded: str
    left: str
    payment: Payment | None
    payment_refunded: str
    profile: EsimProfile | None
    bundles: list[BundleUsage]
    earlier_refunds: list[Refund]

    @property
    def current_bundle(self) -> BundleUsage | None:
        """The bundle running now, else the one queued next, else the last one."""
        for status in (Bundle.Status.ACTIVE, Bundle.Status.QUEUED):
            for usage in self.bundles:
                if usage.bundle.status == status:
                    return usage
        return self.bundles[-1] if self.bundles else None


def _megabytes(size: float) -> str:
    return f"{size / MEGABYTE:.1f} MB"


def refund_facts(refund: Refund) -> RefundFacts:
    """The facts of one refund. Loaded with `billing.selectors.refunds` (the queue loads them
    for all its refunds at once; a refund alone, here)."""
    refund_facts_load([refund])
    order = refund.order
    currency = order.currency
    payment = order.payment
    profile = refund.profile
    bundles = []
    if profile is not None:
        for bundle in profile.bundles.all():  # prefetched with their plans, in order
            allowance = bundle.data_allowance_mb
            bundles.append(
                BundleUsage(
                    bundle=bundle,
                    used=_megabytes(bundle.data_used_bytes),
                    allowance=str(_("Unlimited")) if allowance is None else f"{allowance} MB",
                    left=str(_("Unlimited"))
                    if allowance is None
                    else _megabytes(max(allowance * MEGABYTE - bundle.data_used_bytes, 0)),
                )
            )
    return RefundFacts(
        order=order,
        total=format_money(order.total, currency),
        refunded=format_money(order.refunded_amount, currency),
        left=format_money(order.total - order.refunded_amount, currency),
        payment=payment,
        payment_refunded=format_money(payment.refunded_amount, payment.currency)
        if payment is not None
        else "",
        profile=profile,
        bundles=bundles,
        earlier_refunds=[other for other in order.refunds.all() if other.pk != refund.pk],
    )


def order_url(order: Order) -> str:
    return reverse("admin:billing_order_change", args=[order.pk])


def refund_url(refund: Refund) -> str:
    return reverse("admin:billing_refund_change", args=[refund.pk])


def refund_outcome_message(request: HttpRequest, refund: Refund) -> None:
    """Tell staff what became of a refund they approved or issued."""
    values = {
        "number": refund.number,
        "amount": format_money(refund.amount, refund.currency),
        "message": refund.failure_message,
    }
    if refund.status == Refund.Status.REJECTED:
        messages.success(request, REFUND_REJECTED % values)
    elif refund.status == Refund.Status.FAILED:
        messages.error(request, REFUND_GATEWAY_FAILED % values)
    elif refund.status == Refund.Status.PROCESSING:
        messages.warning(request, REFUND_SENDING % values)
    elif refund.destination == Refund.Destination.WALLET:
        messages.success(request, REFUNDED_TO_WALLET % values)
    else:
        messages.success(request, REFUNDED_TO_ORIGINAL % values)


class RefundDecisionView(View):
    """A finance page about one order or refund: only users who may decide refunds.

    Mounted by OrderAdmin.get_urls() and RefundAdmin.get_urls() through
    `admin_site.admin_view`, which passes `admin_site` and `model_admin` to `as_view`.
    """

    admin_site: AdminSite = admin.site
    model_admin: "ModelAdmin[Any] | None" = None
    template_name = ""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.has_perm(DECIDE_REFUND_PERMISSION):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_model_admin(self) -> "ModelAdmin[Any]":
        assert self.model_admin is not None, "mounted by a ModelAdmin's get_urls()"
        return self.model_admin

    def render(self, request: HttpRequest, *, title: str, **context: Any) -> TemplateResponse:
        model_admin = self.get_model_admin()
        opts = model_admin.model._meta
        form = context.get("form")
        return TemplateResponse(
            request,
            self.template_name,
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": opts,
                "app_label": opts.app_label,
                "has_view_permission": model_admin.has_view_permission(request),
                "media": form.media if form is not None else None,
                **context,
            },
        )


class OrderRefundView(RefundDecisionView):
    """order/<id>/refund/: refund (part of) a paid order to the wallet or the original payment
    method, optionally voiding one of its eSIMs (`refund_issue`)."""

    template_name = "admin/billing/order/refund.html"

    def get(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self.get_order(request, object_id)
        return self._render(request, OrderRefundForm(order=order), order)

    def post(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = self.get_order(request, object_id)
        form = OrderRefundForm(request.POST, order=order)
        if form.is_valid() and not cache.add(form.once_key, True, ONCE_SECONDS):
            form.add_error(None, REFUND_ALREADY_SUBMITTED)
            form.renew_token()
        elif form.is_valid():
            try:
                refund = refund_issue(
                    order=order,
                    amount=form.cleaned_data["amount"],
                    destination=form.cleaned_data["destination"],
                    actor=cast(User, request.user),
                    reason=form.cleaned_data["reason"],
                    profile=form.cleaned_data["profile"],
                )
            except RefundRefused as error:
                cache.delete(form.once_key)  # nothing was written: the page may be sent again
                form.add_error(None, str(error))
            else:
                refund_outcome_message(request, refund)
                return HttpResponseRedirect(order_url(order))
        return self._render(request, form, order)

    def get_order(self, request: HttpRequest, object_id: str) -> Order:
        order = self.get_model_admin().get_object(request, unquote(object_id))
        if order is None:
            raise Http404(ORDER_NOT_FOUND)
        return cast(Order, order)

    def _render(self, request: HttpRequest, form: OrderRefundForm, order: Order) -> HttpResponse:
        currency = order.currency
        return self.render(
            request,
            title=str(ORDER_REFUND_TITLE % {"number": order.number}),
            form=form,
            order=order,
            total=format_money(order.total, currency),
            refunded=format_money(order.refunded_amount, currency),
            left=format_money(order.total - order.refunded_amount, currency),
            refunds=list(order.refunds.order_by("created_at", "pk")),
        )


class RefundDecideView(RefundDecisionView):
    """refund/<id>/approve/ and refund/<id>/reject/: finance decide a requested refund."""

    template_name = "admin/billing/refund/decide.html"
    title = REFUND_APPROVE_TITLE

    def get(self, request: HttpRequest, object_id: str) -> HttpResponse:
        refund = self.get_refund(request, object_id)
        if refund.status != Refund.Status.REQUESTED:
            return self._already_decided(request, refund)
        return self._render(request, self.make_form(refund, None), refund)

    def post(self, request: HttpRequest, object_id: str) -> HttpResponse:
        refund = self.get_refund(request, object_id)
        if refund.status != Refund.Status.REQUESTED:
            return self._already_decided(request, refund)
        form = self.make_form(refund, request.POST)
        if form.is_valid():
            try:
                decided = self.decide(request, refund, form)
            except RefundRefused as error:
                form.add_error(None, str(error))
            else:
                refund_outcome_message(request, decided)
                return HttpResponseRedirect(refund_url(decided))
        return self._render(request, form, refund)

    def make_form(self, refund: Refund, data: Any) -> forms.Form:
        raise NotImplementedError

    def decide(self, request: HttpRequest, refund: Refund, form: Any) -> Refund:
        raise NotImplementedError

    def get_refund(self, request: HttpRequest, object_id: str) -> Refund:
        refund = self.get_model_admin().get_object(request, unquote(object_id))
        if refund is None:
            raise Http404(REFUND_NOT_FOUND)
        return cast(Refund, refund)

    def _already_decided(self, request: HttpRequest, refund: Refund) -> HttpResponse:
        messages.warning(request, REFUND_ALREADY_DECIDED % {"number": refund.number})
        return HttpResponseRedirect(refund_url(refund))

    def _render(self, request: HttpRequest, form: forms.Form, refund: Refund) -> HttpResponse:
        return self.render(
            request,
            title=str(self.title % {"number": refund.number}),
            form=form,
            refund=refund,
            requested=format_money(refund.amount, refund.currency),
            facts=refund_facts(refund),
            rejecting=isinstance(form, RefundRejectForm),
        )


class RefundApproveView(RefundDecideView):
    title = REFUND_APPROVE_TITLE

    def make_form(self, refund: Refund, data: Any) -> forms.Form:
        return RefundApproveForm(data, refund=refund)

    def decide(self, request: HttpRequest, refund: Refund, form: Any) -> Refund:
        return refund_approve(
            refund_id=refund.pk,
            actor=cast(User, request.user),
            destination=form.cleaned_data["destination"],
            amount=form.cleaned_data["amount"],
            note=form.cleaned_data["note"],
        )


class RefundRejectView(RefundDecideView):
    title = REFUND_REJECT_TITLE

    def make_form(self, refund: Refund, data: Any) -> forms.Form:
        return RefundRejectForm(data)

    def decide(self, request: HttpRequest, refund: Refund, form: Any) -> Refund:
        return refund_reject(
            refund_id=refund.pk, actor=cast(User, request.user), note=form.cleaned_data["note"]
        )
