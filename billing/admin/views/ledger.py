"""Ledger account pages: an account's statement (on the page, or as CSV with `?format=csv`,
for all time or a period) and Finance's wallet adjustments, of a wallet from its account or of a
customer's wallet found by email and opened if need be.

Mounted by LedgerAccountAdmin.get_urls(). Statements need view permission on ledger accounts;
adjustments need billing.adjust_wallet and make one service call (`wallet_adjust`), then
redirect to the wallet's statement.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin import AdminSite, ModelAdmin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views import View

from accounts.models import User
from billing.exceptions import IdempotencyConflict, InsufficientFunds, LedgerError
from billing.exports import statement_csv
from billing.forms import (
    ALREADY_SUBMITTED,
    WalletAdjustForm,
    WalletOpenForm,
    format_money,
    insufficient_funds_message,
)
from billing.forms_reports import StatementPeriodForm
from billing.models import LedgerAccount
from billing.selectors.ledger import StatementLine, account_statement
from billing.selectors.reports import PeriodLine, account_statement_period, day_end, day_start
from billing.services.wallets import wallet_adjust, wallet_get

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
