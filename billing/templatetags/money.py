"""{{ payment.amount_money|money }} -> "100.00 USD"; {{ amount|money:"JPY" }} -> "5,000 JPY".

Billing's, as format_money is: the storefront's pages and the staff console's reports load it."""

from decimal import Decimal

from django import template
from djmoney.money import Money

from billing.forms import format_money

register = template.Library()


@register.filter(name="money")
def money_filter(value: Money | Decimal | None, currency: str = "") -> str:
    """The amount with its currency's decimal places, grouped in the active language."""
    if value is None or value == "":
        return ""
    if isinstance(value, Money):
        return format_money(value.amount, str(value.currency))
    return format_money(Decimal(value), currency)
