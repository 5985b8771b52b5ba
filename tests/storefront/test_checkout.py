"""The plan page and the checkout: the destination confirmed, the price copied onto the order,
the coupon previewed or refused, nothing written on a refusal, a steady query count."""

import re
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from djmoney.money import Money

from billing.models import Coupon, CouponRedemption, Order, OrderLine
from catalog.models import PlanPrice, Region
from tests.billing.order_support import plan_for_sale
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    return UserFactory(email="traveller@example.com")


@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer)
    return client


@pytest.fixture
def plan():
    return plan_for_sale(price="12.50", code="jp-5gb", name="Japan 5 GB", country="JP")


def checkout_url(plan) -> str:
    return f"/checkout/{plan.code}/"


def checkout_post(client, plan, *, action="place", token=None, **fields):
    data = {
        "confirm_destination": "on",
        "quantity": "1",
        "currency": "USD",
        "coupon_code": "",
        "request_token": str(token or uuid.uuid4()),
        "action": action,
        **fields,
    }
    data = {key: value for key, value in data.items() if value is not None}
    return client.post(checkout_url(plan), data)


def page_text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- The plan page ------------------------------------------------------------------------


def test_plan_page_is_public_and_states_what_the_plan_is(client, plan):
    PlanPrice.objects.create(plan=plan, price=Money(Decimal("88.00"), "CNY"))

    response = client.get(f"/plans/{plan.code}/")

    assert response.status_code == 200
    text = page_text(response)
    assert "Japan 5 GB" in text
    assert "Japan" in text and "5 GB" in text and "30 days" in text
    assert "12.50 USD" in text
    assert f'href="/checkout/{plan.code}/?currency=USD"' in text

    in_yuan = page_text(client.get(f"/plans/{plan.code}/", {"currency": "CNY"}))
    assert "88.00 CNY" in in_yuan and "12.50 USD" not in in_yuan


def test_plan_page_shows_the_preferred_currency_and_a_regions_countries(client):
    europe = Region.objects.create(code="eu-3", name="Europe 3", countries=["FR", "DE", "IT"])
    plan = plan_for_sale(price="20.00", currency="EUR", country="", region=europe)
    client.force_login(UserFactory(preferred_currency="EUR"))

    text = page_text(client.get(f"/plans/{plan.code}/"))

    assert "20.00 EUR" in text
    assert "Europe 3" in text
    for country in ("France", "Germany", "Italy"):
        assert country in text


def test_plan_page_follows_a_visitors_currency_choice_and_the_query_wins(client):
    plan = plan_for_sale(price="8.00", currency="USD")
    PlanPrice.objects.create(plan=plan, price=Money("57.00", "CNY"))
    client.cookies["simdesk_currency"] = "CNY"

    assert "57.00 CNY" in page_text(client.get(f"/plans/{plan.code}/"))
    assert "8.00 USD" in page_text(client.get(f"/plans/{plan.code}/?currency=USD"))


def test_plan_page_404s_for_an_unknown_or_inactive_plan(client, plan):
    assert client.get("/plans/nope/").status_code == 404
    plan.is_active = False
    plan.save()
    assert client.get(f"/plans/{plan.code}/").status_code == 404


# --- Placing an order ------------------------------------------------------------------------


def test_checkout_asks_to_confirm_the_destination(signed_in, plan):
    response = signed_in.get(checkout_url(plan))

    assert response.status_code == 200
    text = page_text(response)
    assert 'This eSIM works in: <strong data-testid="coverage">Japan</strong>' in text
    assert 'name="confirm_destination"' in text
    assert "12.50 USD" in text


def test_checkout_needs_a_verified_email(client, plan):
    client.force_login(UserFactory(verified=False))
    response = client.get(checkout_url(plan))
    assert b'name="confirm_destination"' not in response.content
    assert checkout_post(client, plan).status_code != 302
    assert not Order.objects.exists()


def test_placing_an_order_copies_the_price_and_goes_to_its_page(signed_in, customer, plan):
    response = checkout_post(signed_in, plan, quantity="3")

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.public_id}/"
    assert (order.customer, order.currency, order.status) == (
        customer,
        "USD",
        Order.Status.PENDING_PAYMENT,
    )
    assert (order.subtotal, order.discount, order.total) == (
        Decimal("37.50"),
        Decimal("0.00"),
        Decimal("37.50"),
    )
    line = order.lines.get()
    assert (line.kind, line.plan, line.quantity, line.unit_price, line.total) == (
        OrderLine.Kind.ESIM,
        plan,
        3,
        Decimal("12.50"),
        Decimal("37.50"),
    )
    assert line.description == "Japan 5 GB"

    # A price change after placing does not touch the order.
    PlanPrice.objects.filter(plan=plan).update(price=Decimal("99.00"))
    line.refresh_from_db()
    assert line.unit_price == Decimal("12.50")


def test_the_same_page_submitted_twice_places_one_order(signed_in, plan):
    token = uuid.uuid4()
    first = checkout_post(signed_in, plan, token=token)
    second = checkout_post(signed_in, plan, token=token)

    assert Order.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_no_order_without_the_destination_confirmed(signed_in, plan):
    response = checkout_post(signed_in, plan, confirm_destination=None)

    assert response.status_code == 200
    assert "Please confirm this eSIM works where you are going." in page_text(response)
    assert not Order.objects.exists()


@pytest.mark.parametrize("quantity", ["0", "11", "many"])
def test_a_quantity_out_of_range_is_refused(signed_in, plan, quantity):
    response = checkout_post(signed_in, plan, quantity=quantity)

    assert response.status_code == 200
    assert "You can buy 1 to 10 eSIMs at a time." in page_text(response)
    assert not Order.objects.exists()


def test_a_currency_the_plan_is_not_priced_in_is_refused(signed_in, plan):
    response = checkout_post(signed_in, plan, currency="CNY")

    assert response.status_code == 200
    assert "This plan is not sold in CNY." in page_text(response)
    assert not Order.objects.exists()


def test_the_currency_select_offers_the_plans_currencies(signed_in, plan):
    PlanPrice.objects.create(plan=plan, price=Money(Decimal("90.00"), "CNY"))

    text = page_text(signed_in.get(checkout_url(plan), {"currency": "CNY"}))

    assert '<option value="CNY" selected>CNY</option>' in text
    assert '<option value="USD">USD</option>' in text
    assert "90.00 CNY" in text
    assert "EUR" not in text.split('name="currency"')[1].split("</select>")[0]


def test_an_add_on_cannot_be_checked_out_as_a_new_esim(signed_in, plan):
    from tests.billing.order_support import addon_for

    addon = addon_for(plan)
    assert signed_in.get(checkout_url(addon)).status_code == 404


# --- Coupons ---------------------------------------------------------------------------------


def test_apply_previews_the_discount_without_placing(signed_in, plan):
    Coupon.objects.create(code="SPRING", kind=Coupon.Kind.PERCENT, percent=Decimal("20"))

    response = checkout_post(
        signed_in,
        plan,
        action="apply",
        quantity="2",
        coupon_code="spring",
        confirm_destination=None,
    )

    assert response.status_code == 200
    text = page_text(response)
    assert "Coupon SPRING applied." in text
    assert 'data-testid="summary-subtotal">25.00 USD' in text
    assert 'data-testid="summary-discount">−5.00 USD' in text
    assert 'data-testid="summary-total">20.00 USD' in text
    # A preview is not a refusal: no complaint about the unticked box.
    assert "Please confirm" not in text
    assert not Order.objects.exists()
    assert Coupon.objects.get().uses == 0


def test_a_refused_coupon_is_shown_on_the_field_and_nothing_is_written(signed_in, plan):
    response = checkout_post(signed_in, plan, action="apply", coupon_code="NOPE")

    text = page_text(response)
    assert response.status_code == 200
    assert 'data-testid="coupon-error"' in text
    assert "This coupon code does not exist." in text
    # The summary still shows the price without it.
    assert 'data-testid="summary-total">12.50 USD' in text

    placed = checkout_post(signed_in, plan, coupon_code="NOPE")
    assert placed.status_code == 200
    assert "This coupon code does not exist." in page_text(placed)
    assert not Order.objects.exists()


def test_placing_with_a_coupon_discounts_and_counts_it(signed_in, customer, plan):
    coupon = Coupon.objects.create(code="FIVE", kind=Coupon.Kind.FIXED, amount=5, currency="USD")

    response = checkout_post(signed_in, plan, coupon_code="five")

    assert response.status_code == 302
    order = Order.objects.get()
    assert (order.coupon, order.discount, order.total) == (coupon, Decimal("5.00"), Decimal("7.50"))
    assert order.lines.get().discount == Decimal("5.00")
    coupon.refresh_from_db()
    assert coupon.uses == 1
    assert CouponRedemption.objects.get().order == order


def test_a_used_up_coupon_refused_at_placing_writes_nothing(signed_in, plan):
    Coupon.objects.create(
        code="ONCE", kind=Coupon.Kind.PERCENT, percent=10, max_uses_per_customer=1
    )
    assert checkout_post(signed_in, plan, coupon_code="ONCE").status_code == 302

    again = checkout_post(signed_in, plan, coupon_code="ONCE")

    assert again.status_code == 200
    assert 'data-testid="coupon-error"' in page_text(again)
    assert Order.objects.count() == 1


# --- Queries ---------------------------------------------------------------------------------


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_checkout_and_plan_pages_query_counts_do_not_grow_with_the_catalog(signed_in, plan):
    europe = Region.objects.create(code="eu-3", name="Europe 3", countries=["FR", "DE", "IT"])
    regional = plan_for_sale(country="", region=europe, stock=1)
    urls = [checkout_url(plan), f"/plans/{plan.code}/", checkout_url(regional)]
    before = [_queries(signed_in, url) for url in urls]

    for _ in range(19):
        extra = plan_for_sale(stock=1)
        PlanPrice.objects.create(plan=extra, price=Money(Decimal("70"), "CNY"))
    PlanPrice.objects.create(plan=plan, price=Money(Decimal("70"), "CNY"))
    PlanPrice.objects.create(plan=plan, price=Money(Decimal("10"), "EUR"))

    assert [_queries(signed_in, url) for url in urls] == before
