"""The destination search: the selector, the results page and the instant suggestions."""

import pytest
from django.utils import translation

from catalog.selectors.destinations import destination_search
from tests.billing.order_support import addon_for
from tests.storefront.test_destinations import europe, grow_catalog, queries, sale, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    """Japan, South Korea, the US, the UK, Malaysia and Germany, plus Europe and Global plans."""
    for country in ("JP", "KR", "US", "GB", "MY", "DE"):
        addon_for(sale("5.00", country=country))
    sale("20.00", region=europe(countries=["FR", "DE"]))
    sale(
        "40.00", region=europe(code="global", name="Global", name_zh_hans="全球", countries=["JP"])
    )


def codes(query: str, currency: str = "USD") -> list[str]:
    return [d.code for d in destination_search(query=query, currency=currency)]


@pytest.mark.parametrize("query", ["日本", "japan", "JAP", "jp", "  Japan  ", "Nippon"])
def test_search_finds_japan_in_either_language_and_by_code(catalog, query):
    assert codes(query)[0] == "JP"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("USA", "US"),
        ("America", "US"),
        ("美国", "US"),
        ("UK", "GB"),
        ("Britain", "GB"),
        ("英国", "GB"),
        ("Korea", "KR"),
        ("韩国", "KR"),
        ("germ", "DE"),
    ],
)
def test_search_knows_usual_aliases(catalog, query, code):
    assert codes(query)[0] == code


@pytest.mark.parametrize(
    ("query", "code"),
    [("Europe", "europe"), ("欧洲", "europe"), ("global", "global"), ("全球", "global")],
)
def test_search_finds_regions_in_both_languages(catalog, query, code):
    assert codes(query) == [code]


def test_prefix_matches_come_before_substring_matches(catalog):
    # "ma": Malaysia starts with it; Germany only contains it.
    assert codes("ma") == ["MY", "DE"]


def test_search_ignores_destinations_without_plans_in_the_currency(catalog):
    assert codes("Thailand") == []
    assert codes("japan", currency="EUR") == []
    assert codes("") == []


def test_search_ignores_the_page_language(catalog):
    with translation.override("zh-hans"):
        found = destination_search(query="Japan", currency="USD")
        assert found[0].name == "日本" and found[0].other_name == "Japan"


# --- The results page ------------------------------------------------------------------------


def test_search_page_with_one_match_goes_to_it(client, catalog):
    response = client.get("/search/", {"q": "日本"})

    assert response.status_code == 302
    assert response["Location"] == "/countries/jp/"
    assert client.get("/search/", {"q": "欧洲"})["Location"] == "/regions/europe/"


def test_search_page_lists_several_matches_with_links(client, catalog):
    response = client.get("/search/", {"q": "ma"})

    assert response.status_code == 200
    text = text_of(response)
    assert text.index('href="/countries/my/"') < text.index('href="/countries/de/"')
    assert "Malaysia" in text and "马来西亚" in text and "from 5.00 USD" in text
    assert 'value="ma"' in text  # the box keeps what was typed


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, "Type a country or a region, for example Japan or Europe."),
        ({"q": "   "}, "Type a country or a region, for example Japan or Europe."),
        ({"q": "x" * 61}, "Type at most 60 characters: a country or a region name."),
    ],
)
def test_search_page_explains_an_empty_or_too_long_query(client, catalog, query, message):
    response = client.get("/search/", query)

    assert response.status_code == 200
    assert message in text_of(response)


def test_search_page_says_when_nothing_matches(client, catalog):
    response = client.get("/search/", {"q": "Atlantis"})

    assert response.status_code == 200
    assert 'data-testid="no-results"' in text_of(response)


# --- The suggestions -------------------------------------------------------------------------


def test_suggest_returns_names_in_both_languages_url_and_from_price(client, catalog):
    response = client.get("/search/suggest/", {"q": "jap"})

    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "name": "Japan",
                "other_name": "日本",
                "kind": "country",
                "url": "/countries/jp/",
                "from_price": "5.00 USD",
            }
        ]
    }
    regions = client.get("/search/suggest/", {"q": "欧洲", "currency": "USD"}).json()["results"]
    assert [(r["kind"], r["url"], r["name"]) for r in regions] == [
        ("region", "/regions/europe/", "Europe")
    ]


def test_suggest_in_chinese_names_in_chinese_first(client, catalog):
    client.cookies["simdesk_language"] = "zh-hans"

    result = client.get("/search/suggest/", {"q": "japan"}).json()["results"][0]

    assert (result["name"], result["other_name"]) == ("日本", "Japan")


def test_suggest_gives_at_most_eight_and_nothing_for_an_empty_query(client, catalog):
    for country in ("AT", "AU", "AR", "AE", "AL", "AM", "AD", "AG", "AO"):
        sale("3.00", country=country)

    results = client.get("/search/suggest/", {"q": "a"}).json()["results"]

    assert len(results) == 8
    assert client.get("/search/suggest/", {"q": ""}).json() == {"results": []}
    assert client.get("/search/suggest/").json() == {"results": []}
    assert client.get("/search/suggest/", {"q": "x" * 200}).json() == {"results": []}


def test_search_and_suggest_queries_do_not_grow_with_the_catalog(client):
    sale("5.00")
    sale("6.00", country="FR")
    sale("7.00", region=europe())
    urls = ["/search/?q=a", "/search/suggest/?q=a", "/search/?q=zzz"]
    few = [queries(client, url) for url in urls]

    grow_catalog(37)

    assert [queries(client, url) for url in urls] == few
