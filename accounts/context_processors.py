"""What every page's template needs to know about the shopper's choices."""

from django.conf import settings
from django.http import HttpRequest

from .currency import CURRENCY_NAMES, currency_of, url_without_currency


def shop(request: HttpRequest) -> dict[str, object]:
    """current_currency and the currencies on offer (currency_options: code and name pairs),
    for prices and the currency selector;
    switcher_next, the page to come back to after switching language or currency (without a
    currency= that would override the new choice)."""
    return {
        "current_currency": currency_of(request),
        "currencies": settings.SIMDESK_CURRENCIES,
        "currency_options": [
            (code, CURRENCY_NAMES.get(code, code)) for code in settings.SIMDESK_CURRENCIES
        ],
        "switcher_next": url_without_currency(request.get_full_path()),
    }
