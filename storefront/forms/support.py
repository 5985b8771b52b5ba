"""The contact form. A signed-in customer may link the request to one of their own orders or
top-ups (one list, values "order:<public id>" / "payment:<public id>"); a visitor gives an
email address and a name instead. Anything not in the customer's own list is refused here."""

from typing import Any

from django import forms
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from billing.forms import format_money
from billing.models import Order, Payment, SupportRequest
from billing.selectors.support import support_subjects

ORDER_PREFIX = "order:"
PAYMENT_PREFIX = "payment:"
SUBJECT_MAX = 200
MESSAGE_MAX = 5000

ABOUT_LABEL = _("Related order or payment (optional)")
ABOUT_NOT_YOURS = _("Choose one of your own orders or payments.")


def order_value(order: Order) -> str:
    return f"{ORDER_PREFIX}{order.public_id}"


def payment_value(payment: Payment) -> str:
    return f"{PAYMENT_PREFIX}{payment.public_id}"


def _date(value: Any) -> str:
    return formats.date_format(timezone.localtime(value), "SHORT_DATE_FORMAT")


def order_label(order: Order) -> str:
    return (
        f"{order.number} · {_date(order.created_at)} · {format_money(order.total, order.currency)}"
    )


def payment_label(payment: Payment) -> str:
    amount = format_money(payment.amount, payment.currency)
    return f"{payment.receipt_number} · {_date(payment.created_at)} · {amount}"


class SupportRequestForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=150)
    email = forms.EmailField(
        label=_("Your email address"), help_text=_("We answer by email to this address.")
    )
    topic = forms.ChoiceField(label=_("Topic"), choices=SupportRequest.Topic.choices)
    about = forms.ChoiceField(label=ABOUT_LABEL, required=False)
    subject = forms.CharField(label=_("Subject"), max_length=SUBJECT_MAX)
    message = forms.CharField(
        label=_("Your message"),
        max_length=MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("What happened, and what you expected. Do not send card numbers."),
    )

    def __init__(self, *args: Any, customer: User | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer
        self._orders: dict[str, Order] = {}
        self._payments: dict[str, Payment] = {}
        if customer is None:
            del self.fields["about"]
            return
        # Signed in: we know who is writing.
        del self.fields["name"]
        del self.fields["email"]
        orders, topups = support_subjects(user=customer)
        self._orders = {order_value(o): o for o in orders}
        self._payments = {payment_value(p): p for p in topups}
        choices: list[Any] = [("", _("No order or payment"))]
        if orders:
            choices.append((_("Orders"), [(v, order_label(o)) for v, o in self._orders.items()]))
        if topups:
            choices.append(
                (_("Wallet top-ups"), [(v, payment_label(p)) for v, p in self._payments.items()])
            )
        about = self.fields["about"]
        assert isinstance(about, forms.ChoiceField)
        about.choices = choices
        about.error_messages["invalid_choice"] = ABOUT_NOT_YOURS

    def related(self) -> tuple[Order | None, Payment | None]:
        """The order or the payment chosen (after validation)."""
        value = self.cleaned_data.get("about") or ""
        return self._orders.get(value), self._payments.get(value)
