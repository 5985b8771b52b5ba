"""The customer's forms for buying an eSIM: the checkout (destination confirmed, quantity,
currency, coupon) and the choice of a payment method for an order.

The checkout form prices what it was given with the read-only `order_quote`, so the coupon's
refusal lands on the coupon field before anything is written; the view then places the order.
"""

import uuid
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.conf import settings
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

from billing.exceptions import CouponRefused, OrderError
from billing.forms import token_renew
from billing.gateways import checkout_methods
from billing.models import Coupon, OrderLine, Payment
from billing.services.orders import MAX_QUANTITY, LineRequest, Quote, order_quote

if TYPE_CHECKING:
    from accounts.models import User
    from catalog.models import Plan

APPLY = "apply"
PLACE = "place"

CONFIRM_LABEL = _("Yes, this is where I am going")
CONFIRM_REQUIRED = _("Please confirm this eSIM works where you are going.")
QUANTITY_LABEL = _("Quantity")
QUANTITY_RANGE = _("You can buy 1 to %(max)d eSIMs at a time.")
CURRENCY_LABEL = _("Currency")
CURRENCY_NOT_OFFERED = _("This plan is not sold in %(value)s.")
COUPON_LABEL = _("Coupon code")
METHOD_LABEL = _("Payment method")
METHOD_REQUIRED = _("Choose how you want to pay.")
METHOD_UNAVAILABLE = _("This payment method is not available.")
TOKEN_MISSING = _("This form has expired. Please fill it in again.")


def _quantity_range() -> str:
    return str(QUANTITY_RANGE) % {"max": MAX_QUANTITY}


QUANTITY_MESSAGE = lazy(_quantity_range, str)()


def plan_currencies(plan: "Plan") -> list[str]:
    """The currencies the plan is priced in and the shop takes, in the shop's order
    (uses the plan's prefetched prices)."""
    priced = {cast(Money, price.price).currency.code for price in plan.prices.all()}
    return [code for code in settings.SIMDESK_CURRENCIES if code in priced]


def plan_currency(plan: "Plan", asked: str, preferred: str) -> str:
    """The currency asked for when the plan is priced in it, else the customer's preferred
    one, else the shop's default, else the first it is priced in ("" when none)."""
    offered = plan_currencies(plan)
    for code in (asked, preferred, settings.SIMDESK_DEFAULT_CURRENCY):
        if code in offered:
            return code
    return offered[0] if offered else ""


class CheckoutForm(forms.Form):
    """One plan: the destination confirmed, how many, in which currency, with which coupon.

    `preview` (the "Apply" button) prices the order without asking for the confirmation.
    After `is_valid()`, `quote` holds the priced order when the lines could be priced.
    """

    confirm_destination = forms.BooleanField(
        label=CONFIRM_LABEL, error_messages={"required": CONFIRM_REQUIRED}
    )
    quantity = forms.IntegerField(
        label=QUANTITY_LABEL,
        min_value=1,
        max_value=MAX_QUANTITY,
        initial=1,
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_QUANTITY, "class": "quantity"}),
        error_messages={
            "min_value": QUANTITY_MESSAGE,
            "max_value": QUANTITY_MESSAGE,
            "invalid": QUANTITY_MESSAGE,
            "required": QUANTITY_MESSAGE,
        },
    )
    currency = forms.ChoiceField(
        label=CURRENCY_LABEL,
        error_messages={"invalid_choice": CURRENCY_NOT_OFFERED, "required": CURRENCY_NOT_OFFERED},
    )
    coupon_code = forms.CharField(
        label=COUPON_LABEL,
        required=False,
        max_length=Coupon._meta.get_field("code").max_length,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    request_token = forms.UUIDField(
        widget=forms.HiddenInput,
        initial=uuid.uuid4,
        error_messages={"required": TOKEN_MISSING, "invalid": TOKEN_MISSING},
    )

    def __init__(
        self,
        *args: Any,
        plan: "Plan",
        customer: "User",
        currency: str = "",
        preview: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.customer = customer
        self.preview = preview
        self.quote: Quote | None = None
        field = self.fields["currency"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(code, code) for code in plan_currencies(plan)]
        self.initial.setdefault("currency", currency)
        if preview:
            self.fields["confirm_destination"].required = False

    def clean_coupon_code(self) -> str:
        return str(self.cleaned_data["coupon_code"]).strip().upper()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        quantity, currency = cleaned.get("quantity"), cleaned.get("currency")
        if quantity is None or not currency:
            return cleaned
        try:
            self.quote = self._quote(currency, quantity, cleaned.get("coupon_code", ""))
        except CouponRefused as refused:
            self.add_error("coupon_code", str(refused))
            # The order without the coupon, so the summary still shows a price.
            self.quote = self._quiet_quote(currency, quantity)
        except OrderError as refused:
            self.add_error(None, str(refused))
        return cleaned

    def _quote(self, currency: str, quantity: int, coupon_code: str) -> Quote:
        return order_quote(
            customer=self.customer,
            currency=currency,
            lines=self.lines(quantity),
            coupon_code=coupon_code,
        )

    def _quiet_quote(self, currency: str, quantity: int) -> Quote | None:
        try:
            return self._quote(currency, quantity, "")
        except OrderError:
            return None

    def lines(self, quantity: int) -> list[LineRequest]:
        return [LineRequest(kind=OrderLine.Kind.ESIM, plan=self.plan, quantity=quantity)]

    def summary(self) -> Quote | None:
        """The order the page summarises: the one priced by `clean`, or for a page just
        opened, one eSIM in the currency shown, without a coupon."""
        if self.is_bound:
            return self.quote
        currency = self.initial.get("currency", "")
        return self._quiet_quote(currency, 1) if currency else None

    def add_refusal(self, error: OrderError) -> None:
        """A refusal from placing the order, on the field it is about."""
        self.add_error("coupon_code" if isinstance(error, CouponRefused) else None, str(error))

    def renew_token(self) -> None:
        token_renew(self, "request_token")


class OrderPayForm(forms.Form):
    """How to pay an order at a gateway. The hidden token makes a second submission of the
    same page find the payment the first one opened."""

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        methods = checkout_methods()
        field = self.fields["method"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(m, Payment.Method(m).label) for m in methods]
        if methods:
            self.initial.setdefault("method", methods[0])

    def renew_token(self) -> None:
        token_renew(self, "request_token")
