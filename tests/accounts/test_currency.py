import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django.urls import reverse

from accounts.context_processors import shop
from accounts.currency import CURRENCY_COOKIE
from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SWITCH = reverse("accounts:currency-set")


def test_visitor_choice_is_kept_in_a_cookie_for_a_year(client):
    response = client.get(SWITCH, {"currency": "CNY", "next": "/countries/jp/"})

    assert response.status_code == 302
    assert response["Location"] == "/countries/jp/"
    cookie = response.cookies[CURRENCY_COOKIE]
    assert cookie.value == "CNY"
    assert cookie["max-age"] == 365 * 24 * 3600
    assert cookie["samesite"] == "Lax"
    assert "no-store" in response["Cache-Control"]


def test_signed_in_choice_is_saved_on_the_profile(client):
    user = UserFactory()
    client.force_login(user)

    client.get(SWITCH, {"currency": "HKD", "next": "/"})

    assert User.objects.get(pk=user.pk).preferred_currency == "HKD"


def test_lowercase_code_is_not_a_currency(client):
    user = UserFactory()
    client.force_login(user)
    response = client.get(SWITCH, {"currency": "cny", "next": "/"})
    assert CURRENCY_COOKIE not in response.cookies
    assert User.objects.get(pk=user.pk).preferred_currency == "USD"


@pytest.mark.parametrize("currency", ["GBP", "", "USD'; --"])
def test_unknown_currency_changes_nothing(client, currency):
    user = UserFactory()
    client.force_login(user)

    response = client.get(SWITCH, {"currency": currency, "next": "/help/"})

    assert response.status_code == 302
    assert response["Location"] == "/help/"
    assert CURRENCY_COOKIE not in response.cookies
    assert User.objects.get(pk=user.pk).preferred_currency == "USD"


@pytest.mark.parametrize(
    "next_url", ["https://evil.example.com/", "//evil.example.com/x", "http:///evil.example.com"]
)
def test_does_not_redirect_off_site(client, next_url):
    response = client.get(SWITCH, {"currency": "EUR", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert response.cookies[CURRENCY_COOKIE].value == "EUR"


def test_currency_is_removed_from_next_so_the_new_choice_wins(client):
    response = client.get(
        SWITCH, {"currency": "EUR", "next": "/countries/jp/?currency=USD&days=7&data=5"}
    )
    assert response["Location"] == "/countries/jp/?days=7&data=5"

    response = client.get(SWITCH, {"currency": "EUR", "next": "/plans/jp-5gb/?currency=CNY"})
    assert response["Location"] == "/plans/jp-5gb/"


def test_post_still_works(client):
    response = client.post(SWITCH, {"currency": "CNY", "next": "/"})
    assert response.status_code == 302
    assert response.cookies[CURRENCY_COOKIE].value == "CNY"


def test_the_chosen_currency_is_marked_on_the_next_page(client):
    client.get(SWITCH, {"currency": "CNY", "next": "/"})

    page = client.get("/").content.decode()

    links = {code: attrs for attrs, code in re.findall(r"<a ([^>]*)>([A-Z]{3})</a>", page)}
    assert set(links) == {"USD", "CNY", "HKD", "EUR"}
    assert 'aria-current="true"' in links["CNY"]
    assert 'rel="nofollow"' in links["CNY"]
    assert all("aria-current" not in links[code] for code in ["USD", "HKD", "EUR"])


def test_switcher_links_come_back_to_this_page_without_its_currency(client):
    page = client.get("/?ref=mail&currency=EUR").content.decode()
    assert '/me/currency/?currency=CNY&amp;next=/%3Fref%3Dmail"' in page


# --- The context processor ---------------------------------------------------------------------


def _context(path="/", user=None, cookie=None):
    request = RequestFactory().get(path)
    request.user = user or AnonymousUser()
    if cookie:
        request.COOKIES[CURRENCY_COOKIE] = cookie
    return shop(request)


def test_context_default_currency():
    context = _context()
    assert context["current_currency"] == "USD"
    assert context["currencies"] == ["USD", "CNY", "HKD", "EUR"]


def test_context_follows_the_cookie():
    assert _context(cookie="HKD")["current_currency"] == "HKD"
    assert _context(cookie="XYZ")["current_currency"] == "USD"


def test_context_profile_beats_the_cookie():
    user = UserFactory(preferred_currency="EUR")
    assert _context(user=user, cookie="HKD")["current_currency"] == "EUR"


def test_context_query_beats_everything():
    user = UserFactory(preferred_currency="EUR")
    assert _context("/?currency=cny", user=user, cookie="HKD")["current_currency"] == "CNY"


def test_context_next_drops_currency():
    assert (
        _context("/countries/jp/?currency=EUR&days=7")["switcher_next"] == "/countries/jp/?days=7"
    )
