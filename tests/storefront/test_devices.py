"""The device checker page /devices/."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Device
from catalog.services.devices import devices_load

pytestmark = pytest.mark.django_db

URL = "/devices/"


@pytest.fixture(autouse=True)
def _device_list():
    devices_load()


def _page(client, query=None, **extra):
    response = client.get(URL, {"q": query} if query is not None else {}, **extra)
    return response, response.content.decode()


def test_a_supported_model(client):
    response, text = _page(client, "Pixel 8")
    assert response.status_code == 200
    first = text.index('data-testid="device-result"')
    assert "Google Pixel 8" in text[first : first + 300]
    assert "Supports eSIM" in text
    assert "Check that it is not carrier-locked." in text
    assert '<label for="id_q">' in text


def test_a_model_without_esim(client):
    _response, text = _page(client, "iphone 8 plus")
    assert "Apple iPhone 8 Plus" in text
    assert "Does not support eSIM" in text
    assert "eSIM starts with iPhone XS and XR." in text
    assert "Supports eSIM" not in text


def test_a_model_that_varies_shows_its_notes_in_the_active_language(client):
    _response, text = _page(client, "iPhone 13 mini")
    assert "Supports eSIM" in text  # the mini has eSIM everywhere
    _response, text = _page(client, "iphone 13 pro max")
    assert "Check that it is not carrier-locked and that your model has eSIM" in text
    assert "mainland China" in text

    _response, text = _page(client, "iphone 13 pro max", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "在中国大陆" in text
    assert "No eSIM on models sold in mainland China" not in text


def test_no_match_explains_how_to_check_on_the_phone(client):
    _response, text = _page(client, "Nokia 3310")
    assert 'data-testid="device-none"' in text
    assert "*#06#" in text and "EID" in text
    assert 'data-testid="device-result"' not in text


def test_an_empty_search_lists_the_brands(client):
    _response, text = _page(client)
    for brand in ("Apple", "Google", "Samsung", "Huawei", "Xiaomi"):
        assert f'href="?q={brand}"' in text
    assert "*#06#" in text


def test_a_too_long_query_is_a_message_not_an_error(client):
    response, text = _page(client, "iphone " * 20)
    assert response.status_code == 200
    assert "Type at most 80 characters" in text
    assert 'data-testid="device-result"' not in text


def test_the_page_has_no_form_token_and_is_cached_for_visitors(client, settings):
    settings.SIMDESK_PAGE_CACHE_SECONDS = 60
    cache.clear()
    first, text = _page(client, "galaxy s24")
    second, _ = _page(client, "galaxy s24")
    assert "csrfmiddlewaretoken" not in text
    assert (first["X-Simdesk-Cache"], second["X-Simdesk-Cache"]) == ("miss", "hit")


def test_queries_do_not_grow_with_the_list(client):
    def count(query):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, {"q": query}).status_code == 200
        return len(queries)

    small = count("galaxy")
    Device.objects.bulk_create(
        Device(brand="Samsung", model=f"Galaxy Test {n}", support="varies", notes="x")
        for n in range(300)
    )
    assert count("galaxy") == small
    assert count("") == count("")
