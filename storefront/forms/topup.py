"""The customer's forms: topping up the wallet (充值).

The form checks what the customer chose against the top-up rules (the services' own checks,
whose refusals become the form's errors); the view then makes one service call.
"""

import json
import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

from billing.exceptions import TopupRefused
from billing.forms import format_money, token_renew
from billing.gateways import checkout_methods
from billing.models import BonusTier, Payment
from billing.money import UnsupportedCurrency, minor_exponent
from billing.services.topups import (
    TopupLimits,
    bonus_tiers_active,
    topup_amount_check,
    topup_bonus,
    topup_currencies,
    topup_limits,
)

OTHER = "other"
AMOUNT_MAX_DIGITS = 16

CURRENCY_LABEL = _("Currency")
PRESET_LABEL = _("Amount")
OTHER_LABEL = _("Other amount")
CUSTOM_LABEL = _("Your amount in %(currency)s")
METHOD_LABEL = _("Payment method")

CURRENCY_NOT_OFFERED = _("Top-ups in %(value)s are not offered.")
AMOUNT_REQUIRED = _("Choose an amount or enter another one.")
CUSTOM_REQUIRED = _("Enter the amount you want to top up.")
AMOUNT_INVALID = _("Enter an amount such as 100 or 100.50.")
METHOD_REQUIRED = _("Choose how you want to pay.")
METHOD_UNAVAILABLE = _("This payment method is not available.")
TOKEN_MISSING = _("This form has expired. Please fill it in again.")


def default_topup_currency(preferred: str) -> str:
    """The customer's preferred currency when top-ups are offered in it, else the first one."""
    offered = topup_currencies()
    if preferred in offered:
        return preferred
    return offered[0] if offered else ""


class TopupForm(forms.Form):
    """How much, in which currency, paid how.

    `currency` is the currency the page shows when the form is not bound (or is bound with a
    currency not offered); a bound form's presets are those of the currency it was posted with.
    The hidden request token is drawn when the page is served: submitting the same page twice
    (a double click, the back button, a retry) finds the payment the first submission made.
    """

    currency = forms.ChoiceField(
        label=CURRENCY_LABEL,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": CURRENCY_NOT_OFFERED, "required": CURRENCY_NOT_OFFERED},
    )
    preset = forms.ChoiceField(label=PRESET_LABEL, widget=forms.RadioSelect, required=False)
    custom_amount = forms.DecimalField(
        label=CUSTOM_LABEL,
        required=False,
        max_digits=AMOUNT_MAX_DIGITS,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "size": 10}),
        error_messages={"invalid": AMOUNT_INVALID, "max_digits": AMOUNT_INVALID},
    )
    method = forms.ChoiceField(
        label=METHOD_LABEL,
        widget=forms.RadioSelect,
        error_messages={"required": METHOD_REQUIRED, "invalid_choice": METHOD_UNAVAILABLE},
    )
    request_token = forms.UUIDField(
        widget=forms.HiddenInput,
        initial=uuid.uuid4,
        error_messages={"required": TOKEN_MISSING, "invalid": TOKEN_MISSING},
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offered = topup_currencies()
        if self.is_bound and self.data.get(self.add_prefix("currency")) in offered:
            currency = str(self.data[self.add_prefix("currency")])
        self.currency_code = currency if currency in offered else ""
        self.limits: TopupLimits | None = (
            topup_limits(self.currency_code) if self.currency_code else None
        )
        self.tiers: list[BonusTier] = (
            bonus_tiers_active(self.currency_code) if self.currency_code else []
        )
        self._field("currency").choices = [(code, code) for code in offered]
        self.initial.setdefault("currency", self.currency_code)
        presets = self.limits.presets if self.limits else []
        self._field("preset").choices = [
            *((str(p.amount), format_money(p.amount, self.currency_code)) for p in presets),
            (OTHER, OTHER_LABEL),
        ]
        self.fields["custom_amount"].label = CUSTOM_LABEL % {"currency": self.currency_code}
        methods = checkout_methods()
        self._field("method").choices = [(m, Payment.Method(m).label) for m in methods]
        if methods:
            self.initial.setdefault("method", methods[0])

    def _field(self, name: str) -> forms.ChoiceField:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        return field

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        preset, custom = cleaned.get("preset"), cleaned.get("custom_amount")
        amount_field = "custom_amount"
        amount: Decimal | None = None
        if preset and preset != OTHER:
            amount, amount_field = Decimal(preset), "preset"
        elif custom is not None:
            amount = custom
        elif "custom_amount" not in self.errors:
            self.add_error(
                "custom_amount" if preset == OTHER else "preset",
                CUSTOM_REQUIRED if preset == OTHER else AMOUNT_REQUIRED,
            )
        currency = cleaned.get("currency")
        if amount is not None and currency:
            money = Money(amount, currency)
            try:
                topup_amount_check(money)
            except TopupRefused as refused:
                self.add_error(amount_field, str(refused))
            else:
                cleaned["amount"] = money
        return cleaned

    @property
    def money(self) -> Money:
        amount: Money = self.cleaned_data["amount"]
        return amount

    def renew_token(self) -> None:
        token_renew(self, "request_token")

    # --- For the page ------------------------------------------------------------------

    @property
    def decimal_places(self) -> int:
        try:
            return minor_exponent(self.currency_code)
        except UnsupportedCurrency:
            return 2

    @property
    def tiers_json(self) -> str:
        """The active tiers for the live bonus preview (computed again by the service)."""
        return json.dumps(
            [
                {
                    "min": str(tier.min_amount),
                    "percent": None if tier.percent is None else str(tier.percent),
                    "fixed": None if tier.fixed_bonus is None else str(tier.fixed_bonus),
                }
                for tier in self.tiers
            ]
        )

    @property
    def tier_lines(self) -> list[dict[str, str]]:
        """Each active tier as the page states it: its name, from what amount, what extra."""
        return [
            {
                "name": tier.name,
                "threshold": format_money(tier.min_amount, self.currency_code),
                "reward": f"{tier.percent.normalize():f}%"
                if tier.percent is not None
                else format_money(tier.fixed_bonus or Decimal(0), self.currency_code),
            }
            for tier in self.tiers
        ]

    def bonus_preview(self) -> tuple[Money, Money] | None:
        """(bonus, total credited) for the amount last posted, when it is a valid amount."""
        if not self.is_bound:
            return None
        self.is_valid()
        amount: Money | None = self.cleaned_data.get("amount")
        if amount is None:
            return None
        _tier, bonus = topup_bonus(amount)
        return bonus, amount + bonus
