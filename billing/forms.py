"""Forms of the staff console's money actions: a finance clerk adjusts a customer's wallet,
staff record money received at the counter, reseller staff keep the bonus tiers and coupons,
finance refund orders and decide customers' refund requests.

The forms validate what staff type (a positive amount exact to the currency's minor unit, a
reason, the customer); the view then makes one service call, whose refusals (not enough in the
wallet) come back onto the form.
"""

import re
import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

from accounts.models import User
from billing.exceptions import InsufficientFunds, TopupRefused
from billing.models import BonusTier, Coupon, LedgerAccount, Order, Payment, Refund
from billing.money import UnsupportedCurrency, is_exact, minor_exponent
from billing.selectors.ledger import wallet_balances
from billing.services.topups import topup_amount_check, topup_currencies, topup_limits
from catalog.models import EsimProfile

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


def token_renew(form: forms.BaseForm, field: str = "token") -> None:
    """Serve a bound form again with a fresh one-time token: the next submission is a new one."""
    data = {key: form.data.get(key) for key in form.data}
    data[form.add_prefix(field)] = str(uuid.uuid4())
    form.data = data


class CustomerByEmailMixin:
    """An `email` field naming a customer: `clean_email` finds them (`self.customer`) or
    refuses an address nobody signed up with."""

    cleaned_data: dict[str, Any]
    customer: User | None = None

    def clean_email(self) -> str:
        email = str(self.cleaned_data["email"])
        self.customer = User.objects.filter(email__iexact=email).first()
        if self.customer is None:
            raise forms.ValidationError(
                CUSTOMER_UNKNOWN, code="unknown_customer", params={"email": email}
            )
        return email


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
        token_renew(self)


class WalletOpenForm(CustomerByEmailMixin, WalletAdjustForm):
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
        self.wallet: LedgerAccount | None = None

    def wallet_currency(self) -> str | None:
        return self.cleaned_data.get("currency")

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


# --- Money received at the store counter or by bank transfer -------------------------------

COUNTER_TOPUP_METHODS = (Payment.Method.CASH, Payment.Method.BANK_TRANSFER)

METHOD_LABEL = _("Received as")
REFERENCE_LABEL = _("Reference")
REFERENCE_HELP = _(
    "For a bank transfer, its reference as the bank statement shows it. For cash, the receipt "
    "slip's number if there is one."
)
COUNTER_AMOUNT_HELP = _("What the customer paid, without the bonus. Top-up limits: %(limits)s.")
COUNTER_TOKEN_MISSING = _("This form has expired. Open the page again.")
REFERENCE_REQUIRED = _("Give the bank transfer's reference, so finance can match it.")
COUNTER_ALREADY_SUBMITTED = _(
    "This form was already submitted with other figures: %(receipt)s was recorded then and "
    "nothing more was written. Check that payment, then submit again to record another one."
)


def topup_limits_text() -> str:
    """ "5.00–500.00 USD, 10.00–3,000.00 CNY": what staff may record, per currency."""
    parts = []
    for currency in topup_currencies():
        limits = topup_limits(currency)
        low = format_money(limits.minimum.amount, currency).rsplit(" ", 1)[0]
        parts.append(f"{low}–{format_money(limits.maximum.amount, currency)}")
    return ", ".join(parts)


class CounterTopupForm(CustomerByEmailMixin, forms.Form):
    """Staff record money a customer handed over: the customer by email, what they paid, how.

    The hidden token, drawn when the page is served, is the payment's request token: the same
    page submitted twice finds the payment the first submission recorded.
    """

    email = forms.EmailField(label=EMAIL_LABEL)
    amount = forms.DecimalField(label=AMOUNT_LABEL, max_digits=AMOUNT_MAX_DIGITS)
    currency = forms.ChoiceField(label=CURRENCY_LABEL)
    method = forms.ChoiceField(
        label=METHOD_LABEL,
        choices=[(m.value, m.label) for m in COUNTER_TOPUP_METHODS],
        widget=forms.RadioSelect,
    )
    reference = forms.CharField(
        label=REFERENCE_LABEL,
        help_text=REFERENCE_HELP,
        required=False,
        max_length=Payment._meta.get_field("reference").max_length,
    )
    token = forms.UUIDField(
        widget=forms.HiddenInput,
        initial=uuid.uuid4,
        error_messages={"required": COUNTER_TOKEN_MISSING, "invalid": COUNTER_TOKEN_MISSING},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # From the settings when the form is made, so a configured currency shows up.
        currency = self.fields["currency"]
        assert isinstance(currency, forms.ChoiceField)
        currencies = topup_currencies()
        currency.choices = [(code, code) for code in currencies]
        if settings.SIMDESK_DEFAULT_CURRENCY in currencies:
            currency.initial = settings.SIMDESK_DEFAULT_CURRENCY
        self.fields["amount"].help_text = COUNTER_AMOUNT_HELP % {"limits": topup_limits_text()}

    def clean_reference(self) -> str:
        return str(self.cleaned_data["reference"]).strip()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        amount, currency = cleaned.get("amount"), cleaned.get("currency")
        if amount is not None and currency:
            try:
                # The service checks again; here the refusal lands on the amount field.
                topup_amount_check(Money(amount, currency))
            except TopupRefused as error:
                self.add_error("amount", str(error))
        if cleaned.get("method") == Payment.Method.BANK_TRANSFER and not cleaned.get("reference"):
            self.add_error("reference", forms.ValidationError(REFERENCE_REQUIRED, code="required"))
        return cleaned

    @property
    def money(self) -> Money:
        return Money(self.cleaned_data["amount"], self.cleaned_data["currency"])

    def matches(self, payment: Payment) -> bool:
        """Whether `payment` records what this form says (a resubmission, not other figures)."""
        return (
            self.customer is not None
            and payment.customer_id == self.customer.pk
            and payment.amount_money == self.money
            and payment.method == self.cleaned_data["method"]
            and payment.reference == self.cleaned_data["reference"]
        )

    def renew_token(self) -> None:
        token_renew(self)


# --- Bonus tiers ------------------------------------------------------------------------------

BONUS_NEITHER = _("Give a percentage or a fixed bonus.")
BONUS_BOTH = _("Give a percentage or a fixed bonus, not both.")
PERCENT_RANGE = _("Enter a percentage above 0 and at most 100.")
BONUS_WINDOW = _("The tier must end after it starts.")
PERCENT_HELP = _(
    "A percentage of the top-up (5 for five percent), rounded down to the currency's smallest unit."
)
FIXED_BONUS_HELP = _(
    "A fixed sum in the tier's currency, the same for every top-up that qualifies."
)
ENDS_HELP = _("Leave empty to keep the tier until it is switched off.")


class BonusTierForm(forms.ModelForm):
    """A tier grants a percentage or a fixed sum, never both; amounts exact in its currency."""

    currency = forms.ChoiceField(label=CURRENCY_LABEL)

    class Meta:
        model = BonusTier
        fields = (
            "name",
            "currency",
            "min_amount",
            "percent",
            "fixed_bonus",
            "starts_at",
            "ends_at",
            "is_active",
        )
        help_texts = {
            "percent": PERCENT_HELP,
            "fixed_bonus": FIXED_BONUS_HELP,
            "ends_at": ENDS_HELP,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["currency"]
        assert isinstance(field, forms.ChoiceField)
        codes = list(settings.SIMDESK_CURRENCIES)
        if self.instance.pk and self.instance.currency not in codes:
            codes.append(self.instance.currency)  # a currency since dropped stays editable
        field.choices = [(code, code) for code in codes]
        if not self.instance.pk:
            field.initial = settings.SIMDESK_DEFAULT_CURRENCY

    def clean_min_amount(self) -> Decimal:
        return _positive(self.cleaned_data["min_amount"])

    def clean_fixed_bonus(self) -> Decimal | None:
        value: Decimal | None = self.cleaned_data["fixed_bonus"]
        return None if value is None else _positive(value)

    def clean_percent(self) -> Decimal | None:
        value: Decimal | None = self.cleaned_data["percent"]
        if value is not None and not Decimal(0) < value <= Decimal(100):
            raise forms.ValidationError(PERCENT_RANGE, code="percent_range")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # Errors go on fields, not the form: a field with an error is left out of the model's
        # own constraint checks, which would repeat it in a database's words.
        has_percent = cleaned.get("percent") is not None
        has_fixed = cleaned.get("fixed_bonus") is not None
        refused = self.has_error("percent") or self.has_error("fixed_bonus")
        if has_percent and has_fixed:
            self.add_error("fixed_bonus", forms.ValidationError(BONUS_BOTH, code="both"))
        elif not (has_percent or has_fixed or refused):
            self.add_error("percent", forms.ValidationError(BONUS_NEITHER, code="neither"))
        currency = cleaned.get("currency")
        if currency:
            for name in ("min_amount", "fixed_bonus"):
                amount = cleaned.get(name)
                if amount is not None:
                    self._check_exact(name, amount, currency)
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", forms.ValidationError(BONUS_WINDOW, code="window"))
        return cleaned

    def _check_exact(self, name: str, amount: Decimal, currency: str) -> None:
        try:
            exact = is_exact(Money(amount, currency))
            places = minor_exponent(currency)
        except UnsupportedCurrency:
            self.add_error("currency", str(CURRENCY_UNSUPPORTED % {"currency": currency}))
            return
        if not exact:
            self.add_error(name, str(AMOUNT_INEXACT % {"currency": currency, "places": places}))


def _positive(amount: Decimal) -> Decimal:
    if amount <= 0:
        raise forms.ValidationError(AMOUNT_NOT_POSITIVE, code="not_positive")
    return amount


# --- Coupons ----------------------------------------------------------------------------------

COUPON_CODE_FORMAT = _("Use letters, digits, dashes and underscores only.")
COUPON_WINDOW = _("The coupon must end after it starts.")
COUPON_MAX_BELOW_USES = _("This coupon has been used %(uses)d times already; allow at least that.")
COUPON_CURRENCY_ANY = _("Any currency")
COUPON_CODE_PATTERN = re.compile(r"^[A-Z0-9_-]+$")


class CouponAdminForm(forms.ModelForm):
    """A coupon as reseller staff keep it: the code stored in capitals, amounts exact in the
    coupon's currency. Which value goes with which kind is the model's own check."""

    currency = forms.ChoiceField(label=CURRENCY_LABEL, required=False)

    class Meta:
        model = Coupon
        fields = (
            "code",
            "description",
            "kind",
            "percent",
            "amount",
            "currency",
            "min_spend",
            "valid_from",
            "valid_until",
            "max_uses",
            "max_uses_per_customer",
            "plans",
            "is_active",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["currency"]
        assert isinstance(field, forms.ChoiceField)
        codes = list(settings.SIMDESK_CURRENCIES)
        if self.instance.currency and self.instance.currency not in codes:
            codes.append(self.instance.currency)  # a currency since dropped stays editable
        field.choices = [("", COUPON_CURRENCY_ANY), *((code, code) for code in codes)]
        field.help_text = Coupon._meta.get_field("currency").help_text

    def clean_code(self) -> str:
        code = str(self.cleaned_data["code"]).strip().upper()
        if not COUPON_CODE_PATTERN.match(code):
            raise forms.ValidationError(COUPON_CODE_FORMAT, code="format")
        return code

    def clean_amount(self) -> Decimal | None:
        value: Decimal | None = self.cleaned_data["amount"]
        return None if value is None else _positive(value)

    def clean_min_spend(self) -> Decimal | None:
        value: Decimal | None = self.cleaned_data["min_spend"]
        return None if value is None else _positive(value)

    def clean_max_uses(self) -> int | None:
        # `uses` is not on the form, so the model's "uses <= max_uses" check would not run.
        value: int | None = self.cleaned_data["max_uses"]
        if value is not None and self.instance.pk and value < self.instance.uses:
            raise forms.ValidationError(
                COUPON_MAX_BELOW_USES, code="below_uses", params={"uses": self.instance.uses}
            )
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        currency = cleaned.get("currency")
        if currency:
            for name in ("amount", "min_spend"):
                amount = cleaned.get(name)
                if amount is not None:
                    self._check_exact(name, amount, currency)
        starts, ends = cleaned.get("valid_from"), cleaned.get("valid_until")
        if starts and ends and ends <= starts:
            self.add_error("valid_until", forms.ValidationError(COUPON_WINDOW, code="window"))
        return cleaned

    def _check_exact(self, name: str, amount: Decimal, currency: str) -> None:
        try:
            exact = is_exact(Money(amount, currency))
            places = minor_exponent(currency)
        except UnsupportedCurrency:
            self.add_error("currency", str(CURRENCY_UNSUPPORTED % {"currency": currency}))
            return
        if not exact:
            self.add_error(name, str(AMOUNT_INEXACT % {"currency": currency, "places": places}))


# --- Refunds decided in the staff console ----------------------------------------------------

REFUND_AMOUNT_LABEL = _("Amount to refund")
REFUND_AMOUNT_HELP = _("At most %(left)s is left to refund on this order.")
REFUND_AMOUNT_TOO_LARGE = _("At most %(left)s of this order is left to refund.")
REFUND_DESTINATION_LABEL = _("Refund to")
REFUND_WALLET_ONLY_HELP = _("The order was paid from the wallet, so the money goes back there.")
REFUND_REASON_LABEL = _("Reason")
REFUND_REASON_HELP = _("Kept on the refund, with your name.")
REFUND_REASON_REQUIRED = _("Give the reason for this refund.")
REFUND_PROFILE_LABEL = _("eSIM to void")
REFUND_PROFILE_HELP = _("Optional: the eSIM the customer gives back; it stops working.")
REFUND_NOTE_LABEL = _("Note to the customer")
REFUND_APPROVE_NOTE_HELP = _("Optional; added to the email telling the customer.")
REFUND_REJECT_NOTE_HELP = _("Sent to the customer: say why the refund is rejected.")
REFUND_REJECT_NOTE_REQUIRED = _("Tell the customer why the refund is rejected.")
REFUND_TOKEN_MISSING = _("This form has expired. Open the refund page again.")
REFUND_ALREADY_SUBMITTED = _(
    "This form was already submitted; nothing more was refunded. Check the order's refunds, "
    "then submit again to make another refund."
)


def refund_destination_choices(order: Order) -> list[tuple[str, Any]]:
    """The wallet always; the original payment method only for an order paid through a gateway."""
    choices: list[tuple[str, Any]] = [
        (Refund.Destination.WALLET.value, Refund.Destination.WALLET.label)
    ]
    if order.paid_with == Order.PaidWith.GATEWAY:
        choices.append((Refund.Destination.ORIGINAL.value, Refund.Destination.ORIGINAL.label))
    return choices


class RefundMoneyForm(forms.Form):
    """An amount of one order to give back and where it goes; the service checks the amount
    again under the order's lock."""

    amount = forms.DecimalField(label=REFUND_AMOUNT_LABEL, max_digits=AMOUNT_MAX_DIGITS)
    destination = forms.ChoiceField(label=REFUND_DESTINATION_LABEL, widget=forms.RadioSelect)

    def __init__(self, *args: Any, order: Order, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order = order
        self.left = order.total - order.refunded_amount
        left_text = format_money(self.left, order.currency)
        self.fields["amount"].help_text = REFUND_AMOUNT_HELP % {"left": left_text}
        destination = self.fields["destination"]
        assert isinstance(destination, forms.ChoiceField)
        destination.choices = refund_destination_choices(order)
        destination.initial = (
            Refund.Destination.ORIGINAL
            if order.paid_with == Order.PaidWith.GATEWAY
            else Refund.Destination.WALLET
        )
        if order.paid_with != Order.PaidWith.GATEWAY:
            destination.help_text = REFUND_WALLET_ONLY_HELP

    def clean_amount(self) -> Decimal:
        amount = _positive(self.cleaned_data["amount"])
        currency = self.order.currency
        try:
            exact = is_exact(Money(amount, currency))
            places = minor_exponent(currency)
        except UnsupportedCurrency as exc:
            raise forms.ValidationError(CURRENCY_UNSUPPORTED % {"currency": currency}) from exc
        if not exact:
            raise forms.ValidationError(
                AMOUNT_INEXACT % {"currency": currency, "places": places}, code="inexact"
            )
        if amount > self.left:
            raise forms.ValidationError(
                REFUND_AMOUNT_TOO_LARGE % {"left": format_money(self.left, currency)},
                code="too_large",
            )
        return amount


class ProfileChoiceField(forms.ModelChoiceField):
    """An eSIM by its ICCID and state."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.iccid} ({obj.get_status_display()})"


class OrderRefundForm(RefundMoneyForm):
    """Staff refund (part of) a paid order directly. The hidden token, drawn when the page is
    served, is claimed by the view before refunding: the same page submitted twice (a double
    click) refunds once."""

    token = forms.UUIDField(
        widget=forms.HiddenInput,
        initial=uuid.uuid4,
        error_messages={"required": REFUND_TOKEN_MISSING, "invalid": REFUND_TOKEN_MISSING},
    )

    reason = forms.CharField(
        label=REFUND_REASON_LABEL,
        help_text=REFUND_REASON_HELP,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": REFUND_REASON_REQUIRED},
    )
    profile = ProfileChoiceField(
        label=REFUND_PROFILE_LABEL,
        help_text=REFUND_PROFILE_HELP,
        queryset=EsimProfile.objects.none(),
        required=False,
    )

    def __init__(self, *args: Any, order: Order, **kwargs: Any) -> None:
        super().__init__(*args, order=order, **kwargs)
        self.fields["amount"].initial = self.left
        profile = self.fields["profile"]
        assert isinstance(profile, forms.ModelChoiceField)
        profile.queryset = (
            EsimProfile.objects.filter(deliveries__line__order=order).distinct().order_by("iccid")
        )

    def clean_reason(self) -> str:
        reason = str(self.cleaned_data["reason"]).strip()
        if not reason:
            raise forms.ValidationError(REFUND_REASON_REQUIRED, code="required")
        return reason

    @property
    def once_key(self) -> str:
        return f"admin-refund:{self.order.pk}:{self.cleaned_data['token']}"

    def renew_token(self) -> None:
        token_renew(self)


class RefundApproveForm(RefundMoneyForm):
    """Finance approve a customer's request, for its amount or less."""

    note = forms.CharField(
        label=REFUND_NOTE_LABEL,
        help_text=REFUND_APPROVE_NOTE_HELP,
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, refund: Refund, **kwargs: Any) -> None:
        super().__init__(*args, order=refund.order, **kwargs)
        self.fields["amount"].initial = min(refund.amount, self.left)


class RefundRejectForm(forms.Form):
    note = forms.CharField(
        label=REFUND_NOTE_LABEL,
        help_text=REFUND_REJECT_NOTE_HELP,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": REFUND_REJECT_NOTE_REQUIRED},
    )

    def clean_note(self) -> str:
        note = str(self.cleaned_data["note"]).strip()
        if not note:
            raise forms.ValidationError(REFUND_REJECT_NOTE_REQUIRED, code="required")
        return note
