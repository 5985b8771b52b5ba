"""The shopper's currency: what prices are shown in, for visitors and signed-in customers."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.translation import gettext_lazy as _

# Set by the currency selector for visitors; a signed-in customer's choice is saved on the profile.
CURRENCY_COOKIE = "simdesk_currency"


def currency_of(request: HttpRequest) -> str:
    """The currency asked for in ?currency=, else the signed-in customer's preferred one, else
    the selector's cookie, else the shop's default. Always one of SIMDESK_CURRENCIES."""
    offered = settings.SIMDESK_CURRENCIES
    asked = request.GET.get("currency", "").upper()
    if asked in offered:
        return asked
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        preferred = getattr(user, "preferred_currency", "")
        if preferred in offered:
            return preferred
    chosen = request.COOKIES.get(CURRENCY_COOKIE, "").upper()
    if chosen in offered:
        return chosen
    return str(settings.SIMDESK_DEFAULT_CURRENCY)


# What the selector shows beside each code; a currency missing here is shown by its code alone.
CURRENCY_NAMES = {
    "USD": _("US dollar"),
    "CNY": _("Chinese yuan"),
    "HKD": _("Hong Kong dollar"),
    "EUR": _("Euro"),
}
CURRENCY_COOKIE_AGE = 365 * 24 * 3600  # one year, like the language cookie


def currency_choices() -> list[tuple[str, str]]:
    """(code, "CODE · name") for every currency the shop offers, for forms."""
    return [
        (code, f"{code} · {CURRENCY_NAMES[code]}" if code in CURRENCY_NAMES else code)
        for code in settings.SIMDESK_CURRENCIES
    ]


def currency_cookie_set(response: HttpResponseBase, currency: str) -> None:
    """Remember a visitor's currency for a year (SameSite=Lax: sent on links from elsewhere)."""
    response.set_cookie(
        CURRENCY_COOKIE,
        currency,
        max_age=CURRENCY_COOKIE_AGE,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
    )


def url_without_currency(url: str) -> str:
    """The URL with any currency= parameter taken out of its query string, so that a new
    choice made in the selector is not overridden by an old ?currency= on the page it returns to."""
    parts = urlsplit(url)
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key != "currency"
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))
