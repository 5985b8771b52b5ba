"""Money in the finance reports' pages: grouped, with the currency's places and its code."""

from decimal import Decimal

from django import template

from billing.forms import format_money

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """{{ amount|money:currency }} -> "1,234.50 USD"; nothing for None."""
    return "" if amount is None else format_money(amount, currency)
