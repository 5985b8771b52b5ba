"""The home page: the search box, popular destinations, regional plans, how it works."""

import re
from decimal import Decimal

import pytest
from djmoney.money import Money

from catalog.models import PlanPrice
from tests.billing.order_support import addon_for
from tests.storefront.test_destinations import europe, grow_catalog, queries, sale, text_of

pytestmark = pytest.mark.django_db


def section(text: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">(.*?)</section>', text)
    assert match, testid
    return match.group(1)


def test_home_has_the_search_box_with_suggestions(client):
    text = text_of(client.get("/"))

    assert '<form class="destination-search" method="get" action="/search/"' in text
    assert '<label for="destination-q" class="search-label">Where are you going?</label>' in text
    assert 'placeholder="Japan, 日本, Europe…"' in text
    assert 'data-suggest-url="/search/suggest/"' in text
    assert re.search(r'<script src="/static/js/search\.js[^"]*" defer></script>', text)
    assert "csrfmiddlewaretoken" not in text


def test_home_lists_popular_destinations_in_order_with_from_prices(client):
    sale("9.00", country="US")
    cheap = sale("4.50", country="JP")
    sale("12.00", country="JP")
    addon_for(cheap, price="1.00")
    sale("2.00", country="KR", is_active=False)
    sale("3.00", country="NZ")  # has plans, but not in the popular list

    popular = section(text_of(client.get("/")), "popular")

    assert re.findall(r'href="/countries/(\w+)/"', popular) == ["jp", "us"]
    assert "Japan" in popular and "from 4.50 USD" in popular and "from 9.00 USD" in popular
    assert "New Zealand" not in popular and "Korea" not in popular


def test_home_lists_regional_and_global_plans(client):
    region = europe()
    sale("20.00", region=region)
    sale("35.00", region=europe(code="global", name="Global", countries=["JP", "US"]))
    europe(code="empty", name="Nowhere", countries=["FR"])

    regions = section(text_of(client.get("/")), "regions")

    assert 'href="/regions/europe/"' in regions and "from 20.00 USD" in regions
    assert 'href="/regions/global/"' in regions and "from 35.00 USD" in regions
    assert "Nowhere" not in regions


def test_home_prices_in_the_shoppers_currency_and_explains_how_it_works(client):
    plan = sale("9.00", country="JP")
    PlanPrice.objects.create(plan=plan, price=Money(Decimal("65.00"), "CNY"))
    sale("3.00", country="US")  # not sold in yuan

    text = text_of(client.get("/", {"currency": "CNY"}))

    popular = section(text, "popular")
    assert "from 65.00 CNY" in popular and "/countries/us/" not in popular
    steps = section(text, "how-it-works")
    assert steps.count("<h3>") == 3
    assert "Choose a plan" in steps and "Pay your way" in steps and "Scan and go" in steps


def test_home_in_chinese(client):
    sale("5.00", country="JP")
    client.cookies["simdesk_language"] = "zh-hans"

    assert "日本" in section(text_of(client.get("/")), "popular")


def test_home_queries_do_not_grow_with_the_catalog(client):
    sale("5.00", country="JP")
    sale("6.00", country="US")
    sale("7.00", region=europe())
    few = queries(client, "/")

    grow_catalog(37)

    assert queries(client, "/") == few
