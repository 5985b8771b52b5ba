"""Forms of the staff console's money actions: a finance clerk adjusts a customer's wallet.

The forms validate what staff type (a positive amount exact to the currency's minor unit, a
reason, the customer); the view then makes one service call, whose refusals (not enough in the
wallet) come back onto the form.
"""

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

from accounts.models import User
from billing.exceptions import InsufficientFunds
from billing.models import LedgerAccount
from billing.money import UnsupportedCurrency, is_exact, minor_exponent
from billing.selectors.ledger import wallet_balances

CREDIT = "credit"
DEBIT = "debit"
IDEMPOTENCY_PREFIX = "adjust:"
AMOUNT_MAX_DIGITS = 16  # the ledger holds 18 digits, two of them decimals
REASON_MAX_LENGTH = 1000

DIRECTION_LABEL = _("Direction")
DIRECTION_CREDIT = _("Credit: add to the wallet")
DIRECTION_DEBIT = _("Debit: take from the wallet")
AMOUNT_LABEL = _("Amount")
AMOUNT_HELP = _("A positive amount in the wallet's currency.")
REASON_LABEL = _("Reason")
REASON_HELP = _("Kept on the journal entry as its memo, with your name.")
EMAIL_LABEL = _("Customer's email address")
CURRENCY_LABEL = _("Currency")

AMOUNT_NOT_POSITIVE = _("Enter an amount greater than zero.")
AMOUNT_INEXACT = _("A %(currency)s amount has at most %(places)d decimal places.")
CURRENCY_UNSUPPORTED = _("The ledger cannot hold %(currency)s amounts exactly.")
REASON_REQUIRED = _("Give the reason for this adjustment.")
TOKEN_MISSING = _("This form has expired. Open the adjustment page again.")
CUSTOMER_UNKNOWN = _("No customer has the email address %(email)s.")
NO_WALLET_TO_DEBIT = _(
    "%(email)s has no %(currency)s wallet yet: the first adjustment must be a credit."
)
INSUFFICIENT_FUNDS = _("The wallet holds %(balance)s; this debit is %(shortfall)s more than that.")
ALREADY_SUBMITTED = _(
    "This form was already submitted with other figures; nothing more was written. Check the "
    "statement, then submit again to make another adjustment."
)


def format_money(amount: Decimal, currency: str) -> str:
    """10.5, "USD" -> "10.50 USD"; grouped and with the active language's separators."""
    try:
        places = minor_exponent(currency)
    except UnsupportedCurrency:
        places = 2
    return f"{number_format(amount, decimal_pos=places, force_grouping=True)} {currency}"


def insufficient_funds_message(error: InsufficientFunds) -> str:
    return str(INSUFFICIENT_FUNDS) % {
        "balance": format_money(error.balance.amount, str(error.balance.currency)),
        "shortfall": format_money(error.shortfall.amount, str(error.shortfall.currency)),
    }


class WalletAdjustForm(forms.Form):
    """Credit or debit one wallet; `currency` is the wallet's.

    The hidden token is drawn when the page is served and posted back with the form: the
    service's idempotency key is made from it, so a second submission of the same page (a
    double click, a reload) finds the entry the first one made instead of making another.
    """

    direction = forms.ChoiceField(
        label=DIRECTION_LABEL,
        choices=[(CREDIT, DIRECTION_CREDIT), (DEBIT, DIRECTION_DEBIT)],
        widget=forms.RadioSelect,
    )
    amount = forms.DecimalField(
        label=AMOUNT_LABEL, help_text=AMOUNT_HELP, max_digits=AMOUNT_MAX_DIGITS
    )
    reason = forms.CharField(
        label=REASON_LABEL,
        help_text=REASON_HELP,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": REASON_REQUIRED},
    )
    token = forms.UUIDField(
        widget=forms.HiddenInput,
        initial=uuid.uuid4,
        error_messages={"required": TOKEN_MISSING, "invalid": TOKEN_MISSING},
    )

    def __init__(self, *args: Any, currency: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fixed_currency = currency

    def wallet_currency(self) -> str | None:
        return self.fixed_currency

    def clean_amount(self) -> Decimal:
        amount: Decimal = self.cleaned_data["amount"]
        if amount <= 0:
            raise forms.ValidationError(AMOUNT_NOT_POSITIVE, code="not_positive")
        return amount

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        amount = cleaned.get("amount")
        currency = self.wallet_currency()
        if amount is not None and currency:
            try:
                exact = is_exact(Money(amount, currency))
                places = minor_exponent(currency)
            except UnsupportedCurrency:
                self.add_error(None, CURRENCY_UNSUPPORTED % {"currency": currency})
            else:
                if not exact:
                    self.add_error(
                        "amount", AMOUNT_INEXACT % {"currency": currency, "places": places}
                    )
        return cleaned

    @property
    def is_credit(self) -> bool:
        return bool(self.cleaned_data["direction"] == CREDIT)

    @property
    def money(self) -> Money:
        return Money(self.cleaned_data["amount"], self.wallet_currency())

    @property
    def reason_text(self) -> str:
        return str(self.cleaned_data["reason"])

    @property
    def idempotency_key(self) -> str:
        return f"{IDEMPOTENCY_PREFIX}{self.cleaned_data['token']}"

    def renew_token(self) -> None:
        """Serve the bound form again with a fresh token: the next submission is a new one."""
        data = {key: self.data.get(key) for key in self.data}
        data[self.add_prefix("token")] = str(uuid.uuid4())
        self.data = data


class WalletOpenForm(WalletAdjustForm):
    """Adjust the wallet of a customer found by email, opening it on a first credit."""

    email = forms.EmailField(label=EMAIL_LABEL)
    currency = forms.ChoiceField(label=CURRENCY_LABEL)

    field_order = ["email", "currency", "direction", "amount", "reason"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # From the settings when the form is made, so a configured currency shows up.
        field = self.fields["currency"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(code, code) for code in settings.SIMDESK_CURRENCIES]
        field.initial = settings.SIMDESK_DEFAULT_CURRENCY
        self.customer: User | None = None
        self.wallet: LedgerAccount | None = None

    def wallet_currency(self) -> str | None:
        return self.cleaned_data.get("currency")

    def clean_email(self) -> str:
        email = str(self.cleaned_data["email"])
        self.customer = User.objects.filter(email__iexact=email).first()
        if self.customer is None:
            raise forms.ValidationError(
                CUSTOMER_UNKNOWN, code="unknown_customer", params={"email": email}
            )
        return email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        currency = cleaned.get("currency")
        if self.customer is None or not currency:
            return cleaned
        self.wallet = wallet_balances(user=self.customer).filter(currency=currency).first()
        if self.wallet is None and cleaned.get("direction") == DEBIT:
            # Refused here rather than by the service, so no empty wallet is left behind.
            self.add_error(
                "direction",
                forms.ValidationError(
                    NO_WALLET_TO_DEBIT,
                    code="no_wallet",
                    params={"email": self.customer.email, "currency": currency},
                ),
            )
        return cleaned
