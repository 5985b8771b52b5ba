"""Exact money: each currency's minor unit, and conversion to a gateway's integer minor units.

Amounts are `Decimal` with their currency (django-money's `Money`), never floats. The ledger
stores two decimal places, enough for every currency whose minor unit is a hundredth or a whole
unit (USD, CNY, HKD, EUR, JPY...); a currency with a smaller minor unit is refused.
"""

from decimal import Decimal

from djmoney.money import Money
from moneyed import get_currency

LEDGER_DECIMAL_PLACES = 2


class UnsupportedCurrency(ValueError):
    pass


def minor_exponent(currency: str) -> int:
    """Decimal places of the currency's minor unit: 2 for USD, 0 for JPY."""
    try:
        sub_unit = get_currency(currency).sub_unit
    except Exception as exc:  # moneyed raises its own CurrencyDoesNotExist
        raise UnsupportedCurrency(f"unknown currency {currency!r}") from exc
    exponent = len(str(sub_unit)) - 1
    if sub_unit != 10**exponent or exponent > LEDGER_DECIMAL_PLACES:
        raise UnsupportedCurrency(f"{currency} has a minor unit the ledger cannot hold exactly")
    return exponent


def quantum(currency: str) -> Decimal:
    """The smallest amount of the currency: Decimal("0.01") for USD, Decimal("1") for JPY."""
    return Decimal(1).scaleb(-minor_exponent(currency))


def is_exact(money: Money) -> bool:
    """True when `money` is a whole number of the currency's minor unit."""
    amount = money.amount
    return amount.is_finite() and amount == amount.quantize(quantum(str(money.currency)))


def to_minor_units(money: Money) -> int:
    """10.50 USD -> 1050; 500 JPY -> 500. Refuses amounts finer than the minor unit."""
    if not is_exact(money):
        raise ValueError(f"{money.amount} is not a whole number of {money.currency} minor units")
    return int(money.amount.scaleb(minor_exponent(str(money.currency))))


def from_minor_units(value: int, currency: str) -> Money:
    """1050, "USD" -> 10.50 USD; 500, "JPY" -> 500 JPY."""
    exponent = minor_exponent(currency)
    return Money(Decimal(value).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)), currency)
