"""The anonymous visitors' page cache (storefront/cache.py) on the catalog pages."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.utils import translation
from djmoney.money import Money

from accounts.currency import CURRENCY_COOKIE, currency_of
from catalog.models import Device, PlanPrice, Region
from storefront import cache as page_cache
from storefront.cache import CACHE_HEADER, VERSION_KEY, cache_page_for_visitors, local_forget
from tests.billing.order_support import plan_for_sale
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _page_cache_on(settings):
    settings.SIMDESK_PAGE_CACHE_SECONDS = 60
    cache.clear()
    local_forget()
    yield
    local_forget()


@pytest.fixture
def plan():
    return plan_for_sale(price="9.00", stock=0, code="jp-cache-5gb", name="Japan cached 5 GB")


def _get(client: Client, url: str, **extra) -> tuple[HttpResponse, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
    return response, len(queries)


def test_second_visit_is_served_from_the_cache_with_no_query_and_the_same_page(client, plan):
    url = f"/plans/{plan.code}/"
    first, first_queries = _get(client, url)
    second, second_queries = _get(client, url)

    assert first.status_code == second.status_code == 200
    assert (first[CACHE_HEADER], second[CACHE_HEADER]) == ("miss", "hit")
    assert first_queries > 0 and second_queries == 0
    assert second.content == first.content
    assert "Japan cached 5 GB" in second.content.decode() and "9.00" in second.content.decode()
    assert second["Content-Type"] == first["Content-Type"] == "text/html; charset=utf-8"
    vary = {v.strip() for v in second["Vary"].split(",")}
    assert {"Cookie", "Accept-Language"} <= vary
    assert second["Content-Language"] == "en"


def test_a_price_change_shows_at_once(client, plan, django_capture_on_commit_callbacks):
    url = f"/plans/{plan.code}/"
    client.get(url)
    assert client.get(url)[CACHE_HEADER] == "hit"

    with django_capture_on_commit_callbacks(execute=True):
        price = PlanPrice.objects.get(plan=plan)
        price.price = Money(Decimal("7.50"), "USD")
        price.save()
    response = client.get(url)

    assert response[CACHE_HEADER] == "miss"
    assert "7.50" in response.content.decode() and "9.00" not in response.content.decode()
    assert client.get(url)[CACHE_HEADER] == "hit"


@pytest.mark.parametrize(
    "change",
    [
        lambda plan: plan.save(),
        lambda plan: PlanPrice.objects.create(plan=plan, price=Money(Decimal("60"), "CNY")),
        lambda plan: Region.objects.create(code="asia", name="Asia", countries=["JP"]),
        lambda plan: Device.objects.create(brand="Testphone", model="T 1", support="yes"),
        lambda plan: plan.prices.all().delete(),
    ],
    ids=["plan saved", "price added", "region added", "device added", "price deleted"],
)
def test_every_catalog_change_refreshes_the_cached_pages(
    client, plan, change, django_capture_on_commit_callbacks
):
    url = f"/plans/{plan.code}/"
    client.get(url)
    assert client.get(url)[CACHE_HEADER] == "hit"
    with django_capture_on_commit_callbacks(execute=True):
        change(plan)

    assert client.get(url)[CACHE_HEADER] == "miss"


def test_an_add_on_fitted_to_a_plan_refreshes_the_cached_pages(
    client, plan, django_capture_on_commit_callbacks
):
    addon = plan_for_sale(stock=0, kind="topup", code="jp-cache-addon", data_mb=1024)
    url = f"/plans/{plan.code}/"
    client.get(url)
    with django_capture_on_commit_callbacks(execute=True):
        addon.fits.add(plan)

    assert client.get(url)[CACHE_HEADER] == "miss"


def test_another_process_change_shows_once_the_local_version_is_no_longer_trusted(
    client, plan, monkeypatch
):
    url = f"/plans/{plan.code}/"
    client.get(url)
    # Another process changed the catalog: the shared version moved, this process's did not.
    cache.set(VERSION_KEY, "changed-elsewhere", timeout=None)
    PlanPrice.objects.filter(plan=plan).update(price=Decimal("8.25"))
    assert client.get(url)[CACHE_HEADER] == "hit"  # within LOCAL_SECONDS

    monkeypatch.setattr(page_cache._Local, "trusted_until", 0.0)  # LOCAL_SECONDS later
    response = client.get(url)

    assert response[CACHE_HEADER] == "miss" and "8.25" in response.content.decode()


def test_pages_are_shared_between_processes(client, plan):
    url = f"/plans/{plan.code}/"
    client.get(url)
    local_forget()  # another process: nothing of its own yet

    response, queries = _get(client, url)

    assert response[CACHE_HEADER] == "hit" and queries == 0


def test_languages_are_cached_apart(plan):
    url = f"/plans/{plan.code}/"
    english, chinese = Client(), Client()
    chinese.cookies["simdesk_language"] = "zh-hans"
    browser_chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert english.get(url)[CACHE_HEADER] == "miss"
    assert chinese.get(url)[CACHE_HEADER] == "miss"
    for client, language in [(english, "en"), (chinese, "zh-hans"), (browser_chinese, "zh-hans")]:
        response = client.get(url)
        assert response[CACHE_HEADER] == "hit"
        assert f'<html lang="{language}">' in response.content.decode()
        assert response["Content-Language"] == language


def currency_probe(request: HttpRequest) -> HttpResponse:
    """What a catalog page shows that depends on the visitor: language and currency."""
    return HttpResponse(f"{translation.get_language()} {currency_of(request)}")


def form_probe(request: HttpRequest) -> HttpResponse:
    """A page with a POST form: it shows the visitor's own CSRF token."""
    return HttpResponse(f'<input name="csrfmiddlewaretoken" value="{get_token(request)}">')


def cookie_probe(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("remembered")
    response.set_cookie("seen", "1")
    return response


urlpatterns = [
    path("probe/", cache_page_for_visitors(currency_probe)),
    path("form/", cache_page_for_visitors(form_probe)),
    path("cookie/", cache_page_for_visitors(cookie_probe)),
    path("", include("config.urls")),
]


@pytest.mark.urls(__name__)
def test_currencies_are_cached_apart():
    usd, cny, asked = Client(), Client(), Client()
    cny.cookies[CURRENCY_COOKIE] = "CNY"

    assert usd.get("/probe/").content == b"en USD"
    assert cny.get("/probe/").content == b"en CNY"
    assert asked.get("/probe/", {"currency": "HKD"}).content == b"en HKD"
    for client, shown in [(usd, b"en USD"), (cny, b"en CNY")]:
        response = client.get("/probe/")
        assert (response[CACHE_HEADER], response.content) == ("hit", shown)
    response = asked.get("/probe/", {"currency": "HKD"})
    assert (response[CACHE_HEADER], response.content) == ("hit", b"en HKD")


def test_signed_in_customers_never_get_or_fill_cached_pages(plan):
    url = f"/plans/{plan.code}/"
    customer = Client()
    customer.force_login(UserFactory())

    signed_in, queries = _get(customer, url)
    assert CACHE_HEADER not in signed_in and queries > 0
    assert "Sign out" in signed_in.content.decode()
    # Their page did not enter the cache: a visitor's first request renders.
    visitor = Client()
    assert visitor.get(url)[CACHE_HEADER] == "miss"
    assert visitor.get(url)[CACHE_HEADER] == "hit"
    # And a visitor's cached page is not what the customer gets.
    again = customer.get(url)
    assert CACHE_HEADER not in again and "Sign out" in again.content.decode()


def test_a_request_with_a_messages_cookie_is_rendered(client, plan):
    url = f"/plans/{plan.code}/"
    client.get(url)
    assert client.get(url)[CACHE_HEADER] == "hit"
    client.cookies["messages"] = "anything"

    response, queries = _get(client, url)

    assert CACHE_HEADER not in response and queries > 0


def test_a_session_cookie_means_no_cache(client, plan):
    url = f"/plans/{plan.code}/"
    client.get(url)
    client.cookies["sessionid"] = "not-a-session"

    response = client.get(url)

    assert response.status_code == 200 and CACHE_HEADER not in response


def test_a_404_is_not_cached(client):
    first, _ = _get(client, "/plans/no-such-plan/")
    second, queries = _get(client, "/plans/no-such-plan/")

    assert first.status_code == second.status_code == 404
    assert CACHE_HEADER not in second and queries > 0


def test_the_cache_is_off_with_zero_seconds(client, plan, settings):
    settings.SIMDESK_PAGE_CACHE_SECONDS = 0
    url = f"/plans/{plan.code}/"
    client.get(url)

    response, queries = _get(client, url)

    assert CACHE_HEADER not in response and queries > 0


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("url", ["/form/", "/cookie/"])
def test_a_page_with_a_csrf_token_or_setting_a_cookie_is_not_stored(url):
    first = Client().get(url)
    second = Client().get(url)

    assert first.status_code == second.status_code == 200
    assert CACHE_HEADER not in first and CACHE_HEADER not in second
    if url == "/form/":
        assert first.content != second.content  # each visitor's own token


def test_the_catalog_pages_carry_no_csrf_token(client, plan):
    """The pages the cache serves must not hold a visitor's token, or none would be cached."""
    response = client.get(f"/plans/{plan.code}/")

    assert "csrfmiddlewaretoken" not in response.content.decode()
    assert response[CACHE_HEADER] == "miss" and "csrftoken" not in response.cookies
