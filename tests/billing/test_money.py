from decimal import Decimal

import pytest
from djmoney.money import Money

from billing.money import (
    UnsupportedCurrency,
    from_minor_units,
    is_exact,
    minor_exponent,
    to_minor_units,
)


@pytest.mark.parametrize(
    ("money", "minor"),
    [
        (Money("10.50", "USD"), 1050),
        (Money("0.01", "CNY"), 1),
        (Money("500", "JPY"), 500),
        (Money("1234.00", "HKD"), 123400),
    ],
)
def test_minor_units_both_ways(money, minor):
    currency = str(money.currency)
    assert to_minor_units(money) == minor
    assert from_minor_units(minor, currency) == money
    assert from_minor_units(minor, currency).amount.as_tuple().exponent == -minor_exponent(currency)


@pytest.mark.parametrize("money", [Money("10.505", "USD"), Money("1.5", "JPY")])
def test_amounts_finer_than_the_minor_unit_are_refused(money):
    assert not is_exact(money)
    with pytest.raises(ValueError, match="minor units"):
        to_minor_units(money)


def test_exponents():
    assert (minor_exponent("USD"), minor_exponent("EUR"), minor_exponent("JPY")) == (2, 2, 0)
    assert is_exact(Money(Decimal("3.10"), "EUR"))


def test_currencies_the_ledger_cannot_hold_are_refused():
    with pytest.raises(UnsupportedCurrency):
        minor_exponent("KWD")  # three decimal places
    with pytest.raises(UnsupportedCurrency):
        minor_exponent("XYZ")
