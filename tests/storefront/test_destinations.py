"""Country and region pages, the destinations index and the plan page's additions."""

import itertools
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from djmoney.money import Money

from catalog.models import Plan, PlanPrice, Region
from catalog.selectors.destinations import destination_index, destination_plans
from tests.billing.order_support import addon_for, plan_for_sale

pytestmark = pytest.mark.django_db

_codes = itertools.count(1)
GROWTH_COUNTRIES = ["JP", "KR", "TH", "FR", "DE", "US", "GB", "SG"]


def sale(price: str, *, currency: str = "USD", country: str = "JP", **fields: object) -> Plan:
    """A plan for sale without stock: a unique code, `country` unless a region is given."""
    number = next(_codes)
    region = fields.get("region")
    fields.setdefault("code", f"{(country or 'rg').lower()}-{number}")
    fields.setdefault("name", f"{country or 'Region'} plan {number}")
    return plan_for_sale(
        price=price, currency=currency, stock=0, country="" if region else country, **fields
    )


def europe(**fields: object) -> Region:
    fields.setdefault("code", "europe")
    fields.setdefault("name", "Europe")
    fields.setdefault("name_zh_hans", "欧洲")
    fields.setdefault("countries", ["FR", "DE", "IT", "JP"])
    return Region.objects.create(**fields)


def grow_catalog(count: int) -> None:
    """`count` more plans over several countries and two regions, in USD and CNY."""
    asia = Region.objects.get_or_create(
        code="asia-grow", defaults={"name": "Asia", "countries": ["JP", "KR", "TH", "SG"]}
    )[0]
    for n in range(count):
        if n % 5 == 0:
            plan = sale(f"{10 + n}.00", region=asia)
        else:
            plan = sale(f"{5 + n}.00", country=GROWTH_COUNTRIES[n % len(GROWTH_COUNTRIES)])
        PlanPrice.objects.create(plan=plan, price=Money(Decimal(70 + n), "CNY"))


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def card_codes(response, testid: str = "own-plans") -> list[str]:
    html = response.content.decode()
    match = re.search(rf'data-testid="{testid}">(.*?)</ul>', html, re.S)
    return re.findall(r'data-plan="([^"]+)"', match.group(1)) if match else []


# --- The selectors ---------------------------------------------------------------------------


def test_index_lists_countries_and_regions_with_from_prices_without_add_ons():
    region = europe(countries=["FR", "DE"])
    cheap = sale("4.00", country="JP")
    sale("9.00", country="JP")
    sale("30.00", region=region)
    addon_for(cheap, price="1.00")
    sale("2.00", country="KR", is_active=False)
    sale("3.00", country="TH", currency="CNY")

    index = destination_index(currency="USD")

    countries = {d.code: (d.from_price, d.plan_count) for d in index.countries}
    assert countries == {
        "JP": (Decimal("4.00"), 2),
        "FR": (Decimal("30.00"), 1),
        "DE": (Decimal("30.00"), 1),
    }
    assert [(d.code, d.name_en, d.name_zh, d.from_price) for d in index.regions] == [
        ("europe", "Europe", "欧洲", Decimal("30.00"))
    ]
    japan = index.country("jp")
    assert japan is not None and (japan.name_en, japan.name_zh) == ("Japan", "日本")
    assert [d.code for d in destination_index(currency="CNY").countries] == ["TH"]


def test_a_country_counts_its_own_and_its_regions_plans(django_assert_max_num_queries):
    region = europe()
    sale("12.00", country="FR")
    sale("8.00", region=region)

    with django_assert_max_num_queries(2):
        france = destination_index(currency="USD").country("FR")

    assert france is not None
    assert (france.from_price, france.plan_count) == (Decimal("8.00"), 2)


def test_destination_plans_groups_a_countrys_own_and_regional_plans_by_price():
    region = europe()
    dear = sale("20.00")
    cheap = sale("5.00")
    regional = sale("7.00", region=region)
    sale("1.00", country="KR")
    sale("1.00", region=europe(code="other", countries=["FR"]))

    plans = destination_plans(currency="USD", country="jp")

    assert [p.code for p in plans.own] == [cheap.code, dear.code]
    assert [p.code for p in plans.regional] == [regional.code]
    assert [p.price_amount for p in plans.own] == [Decimal("5.00"), Decimal("20.00")]
    assert plans.total == 3


def test_destination_plans_refuses_unknown_filters():
    with pytest.raises(ValueError):
        destination_plans(currency="USD", country="JP", days="forever")


# --- The country page ------------------------------------------------------------------------


def test_country_page_sorts_plans_by_price_in_the_chosen_currency(client):
    dear = sale("20.00")
    cheap = sale("5.00")
    middle = sale("9.00")
    for plan, yuan in ((dear, "30.00"), (cheap, "99.00")):
        PlanPrice.objects.create(plan=plan, price=Money(Decimal(yuan), "CNY"))

    in_dollars = client.get("/countries/jp/", {"currency": "USD"})
    in_yuan = client.get("/countries/jp/", {"currency": "CNY"})

    assert card_codes(in_dollars) == [cheap.code, middle.code, dear.code]
    assert "5.00 USD" in text_of(in_dollars)
    assert card_codes(in_yuan) == [dear.code, cheap.code]  # middle is priced in USD only
    text = text_of(in_yuan)
    assert "30.00 CNY" in text and "99.00 CNY" in text
    assert "9.00 USD" not in text and f"/plans/{middle.code}/" not in text
    assert f'href="/plans/{dear.code}/?currency=CNY"' in text


def test_country_page_states_each_plans_facts(client):
    sale(
        "15.00",
        kind=Plan.Kind.UNLIMITED,
        data_mb=None,
        daily_cap_mb=2048,
        validity_days=7,
        network=Plan.Network.NR,
        hotspot=False,
        activation_policy=Plan.ActivationPolicy.ON_INSTALL,
    )
    sale("6.00", data_mb=3072, validity_days=1)

    response = client.get("/countries/jp/")

    assert response.status_code == 200
    text = text_of(response)
    assert '<h1 data-testid="destination-name">Japan</h1>' in text
    assert "Unlimited" in text and "2 GB a day at full speed, then slower" in text
    assert "7 days" in text and "1 day" in text and "3 GB" in text
    assert "<dd>5G</dd>" in text and "<dd>4G</dd>" in text
    assert "<dd>No</dd>" in text and "<dd>Yes</dd>" in text
    assert "Starts when installed" in text and "Starts when you first connect" in text
    assert "csrfmiddlewaretoken" not in text


def test_country_page_lists_regional_plans_that_cover_it(client):
    region = europe()
    own = sale("9.00", country="FR")
    regional = sale("4.00", region=region)

    response = client.get("/countries/fr/")

    assert card_codes(response) == [own.code]
    assert card_codes(response, "regional-plans") == [regional.code]
    assert "Regional plans that also cover France" in text_of(response)
    # Covered only by a region: still a destination, with the regional group only.
    italy = client.get("/countries/it/")
    assert italy.status_code == 200
    assert card_codes(italy) == [] and card_codes(italy, "regional-plans") == [regional.code]


def test_number_keeping_plans_carry_a_badge(client):
    sale("3.00", kind=Plan.Kind.NUMBER_KEEPING, data_mb=100)

    assert "Keeps your number" in text_of(client.get("/countries/jp/"))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"days": "le7"}, ["d1", "d7"]),
        ({"days": "8-15"}, ["d8", "d15"]),
        ({"days": "16-30"}, ["d30"]),
        ({"days": "gt30"}, ["d31"]),
        ({"days": "le7", "allowance": "le3"}, ["d1"]),
    ],
)
def test_country_page_filters_by_days(client, query, expected):
    for days, price in ((1, "1.00"), (7, "2.00"), (8, "3.00"), (15, "4.00"), (30, "5.00")):
        sale(price, code=f"d{days}", validity_days=days, data_mb=1024 * days)
    sale("6.00", code="d31", validity_days=31)

    assert card_codes(client.get("/countries/jp/", query)) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("le3", ["mb500", "gb3"]),
        ("3-10", ["gb5", "gb10"]),
        ("gt10", ["gb20"]),
        ("unlimited", ["unl"]),
        ("", ["mb500", "gb3", "gb5", "gb10", "gb20", "unl"]),
    ],
)
def test_country_page_filters_by_data(client, data, expected):
    for code, price, megabytes in (
        ("mb500", "1.00", 500),
        ("gb3", "2.00", 3072),
        ("gb5", "3.00", 5120),
        ("gb10", "4.00", 10240),
        ("gb20", "5.00", 20480),
    ):
        sale(price, code=code, data_mb=megabytes)
    sale("6.00", code="unl", kind=Plan.Kind.UNLIMITED, data_mb=None, daily_cap_mb=1024)

    assert card_codes(client.get("/countries/jp/", {"allowance": data})) == expected


@pytest.mark.parametrize(
    "query", [{"days": "forever"}, {"allowance": "lots"}, {"days": "le7<script>"}]
)
def test_an_invalid_filter_shows_a_message_and_every_plan(client, query):
    short = sale("1.00", validity_days=3)
    long = sale("2.00", validity_days=60)

    response = client.get("/countries/jp/", query)

    assert response.status_code == 200
    assert "Some filters were not understood, so all plans are shown." in text_of(response)
    assert card_codes(response) == [short.code, long.code]


def test_no_plan_matching_the_filters_says_so_with_a_reset_link(client):
    sale("1.00", validity_days=30)

    response = client.get("/countries/jp/", {"days": "le7", "currency": "USD"})

    text = text_of(response)
    assert "No plans match these filters." in text
    assert '<a href="/countries/jp/?currency=USD">Show all plans</a>' in text
    assert 'name="currency" value="USD"' in text


@pytest.mark.parametrize(
    "path", ["/countries/xx/", "/countries/jpn/", "/countries/kr/", "/countries/1/"]
)
def test_country_page_404s_for_unknown_countries_and_countries_without_plans(client, path):
    base = sale("5.00")
    addon_for(base)  # add-ons never make a destination
    sale("5.00", country="KR", is_active=False)

    assert client.get(path).status_code == 404


def test_country_page_404s_when_nothing_is_priced_in_the_currency(client):
    sale("5.00")

    assert client.get("/countries/jp/", {"currency": "EUR"}).status_code == 404


def test_country_page_redirects_to_the_lower_case_address(client):
    sale("5.00")

    response = client.get("/countries/JP/", {"days": "le7"})

    assert response.status_code == 301
    assert response["Location"] == "/countries/jp/?days=le7"
    assert client.get("/countries/Xx/").status_code == 404


def test_country_page_in_chinese(client):
    sale("5.00")
    client.cookies["simdesk_language"] = "zh-hans"

    text = text_of(client.get("/countries/jp/"))

    assert '<h1 data-testid="destination-name">日本</h1>' in text
    assert "Japan" in text  # the other language's name, for who typed it


# --- The region page -------------------------------------------------------------------------


def test_region_page_lists_covered_countries_and_its_plans(client):
    region = europe(countries=["IT", "FR", "DE"])
    dear = sale("30.00", region=region)
    cheap = sale("10.00", region=region)
    sale("1.00", country="FR")

    response = client.get("/regions/europe/")

    assert response.status_code == 200
    text = text_of(response)
    assert "<h1 " in text and ">Europe</h1>" in text
    covered = re.search(r'data-testid="covered-countries">(.*?)</ul>', text).group(1)
    assert re.findall(r">([^<>]+)</a>", covered) == ["France", "Germany", "Italy"]
    assert card_codes(response) == [cheap.code, dear.code]


def test_region_page_in_chinese_and_its_404s(client):
    region = europe(countries=["FR", "DE"])
    sale("10.00", region=region)
    europe(code="empty", name="Empty", countries=["FR"])

    assert client.get("/regions/nowhere/").status_code == 404
    assert client.get("/regions/empty/").status_code == 404
    assert client.get("/regions/europe/", {"currency": "CNY"}).status_code == 404
    assert client.get("/regions/Europe/").status_code == 301
    client.cookies["simdesk_language"] = "zh-hans"
    text = text_of(client.get("/regions/europe/"))
    assert "欧洲</h1>" in text and "法国" in text and "德国" in text


def test_region_page_filters(client):
    region = europe()
    sale("10.00", region=region, code="short", validity_days=5)
    sale("20.00", region=region, code="long", validity_days=40)

    assert card_codes(client.get("/regions/europe/", {"days": "gt30"})) == ["long"]


# --- The destinations index ------------------------------------------------------------------


def test_destinations_page_lists_countries_a_to_z_and_regions(client):
    region = europe(countries=["DE"])
    sale("8.00", country="TH")
    sale("5.00", country="AU")
    sale("12.00", region=region)

    text = text_of(client.get("/destinations/"))

    countries = text[text.index('data-testid="countries"') :]
    assert countries.index("Australia") < countries.index("Germany") < countries.index("Thailand")
    assert "from 5.00 USD" in countries and "from 12.00 USD" in countries
    assert 'href="/countries/au/"' in countries
    assert 'href="/regions/europe/"' in text


# --- Query counts ----------------------------------------------------------------------------


def test_destination_pages_queries_do_not_grow_with_the_catalog(client):
    region = europe()
    sale("5.00")
    sale("6.00", country="FR")
    sale("7.00", region=region)
    grow = ["/countries/jp/", "/countries/fr/", "/regions/europe/", "/destinations/"]
    grow += ["/countries/jp/?days=le7&allowance=unlimited"]
    few = [queries(client, url) for url in grow]

    grow_catalog(37)
    for n in range(3):
        sale(f"{20 + n}.00", region=region)

    assert [queries(client, url) for url in grow] == few


# --- The plan page ---------------------------------------------------------------------------


def test_plan_page_shows_countries_covered_details_devices_link_and_buy(client):
    region = europe(countries=["IT", "FR", "DE"])
    regional = sale("20.00", region=region, code="eu-10")
    single = sale("5.00", code="jp-10")

    text = text_of(client.get("/plans/eu-10/"))
    covered = re.search(r'data-testid="plan-countries">(.*?)</ul>', text).group(1)
    assert re.findall(r"<li>([^<]+)</li>", covered) == ["France", "Germany", "Italy"]
    assert "Countries covered" in text and "Validity starts" in text
    assert 'href="/devices/"' in text and "Check your phone supports eSIM" in text
    assert f'href="/checkout/{regional.code}/?currency=USD"' in text

    single_text = text_of(client.get(f"/plans/{single.code}/"))
    covered = re.search(r'data-testid="plan-countries">(.*?)</ul>', single_text).group(1)
    assert ">Japan</a>" in covered and 'href="/countries/jp/?currency=USD"' in covered
