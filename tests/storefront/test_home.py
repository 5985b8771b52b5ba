import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Plan
from tests.billing.order_support import addon_for, plan_for_sale

pytestmark = pytest.mark.django_db


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    return len(queries)


def test_home_lists_plans_cheapest_first_without_add_ons_and_links_to_them(client):
    cheap = plan_for_sale(price="4.50", stock=0, name="Japan 1 GB", data_mb=1024)
    dear = plan_for_sale(price="19.00", stock=0, name="Japan 10 GB", data_mb=10240)
    addon_for(cheap, price="1.00")
    plan_for_sale(price="5.00", stock=0, name="Hidden", is_active=False)

    html = client.get("/").content.decode()

    assert html.index("Japan 1 GB") < html.index("Japan 10 GB")
    assert f"/plans/{cheap.code}/" in html and f"/plans/{dear.code}/" in html
    assert "4.50 USD" in html and "1 GB" in html and "10 GB" in html
    assert "Hidden" not in html and "add-on" not in html


def test_home_queries_do_not_grow_with_the_catalog(client):
    plan_for_sale(stock=0)
    few = _queries(client)
    for _ in range(30):
        plan_for_sale(stock=0, kind=Plan.Kind.DATA)

    assert _queries(client) == few
