"""The customer's renewal pages: renewing a card (also early), auto-renewal on the eSIM page,
changing a card's plan, and the keep-active date of number-keeping cards."""

import re
import uuid
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.template.defaultfilters import date as date_format
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from billing.models import AutoRenewal, Order, OrderLine
from catalog.models import EsimProfile, Plan, PlanPrice
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale
from tests.billing.renewal_support import run_bundle
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def page_text(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.content.decode()))


def visible_text(response) -> str:
    """The page's words, tags removed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


@pytest.fixture
def customer():
    return funded_customer("100.00")


@pytest.fixture
def plan():
    plan = plan_for_sale(price="12.00", name="Japan 5 GB", code="jp-5gb")
    PlanPrice.objects.create(plan=plan, price=Money(Decimal("11.00"), "EUR"))
    return plan


@pytest.fixture
def bigger():
    """Another plan for the same coverage, to renew or change to."""
    return plan_for_sale(price="20.00", stock=0, name="Japan 10 GB", code="jp-10gb", data_mb=10240)


@pytest.fixture
def esim(customer, plan):
    _order, profile = bought_esim(customer, plan)
    return profile


def renew_url(profile: EsimProfile) -> str:
    return reverse("storefront:esim-renew", args=[profile.iccid])


def change_url(profile: EsimProfile) -> str:
    return reverse("storefront:esim-change", args=[profile.iccid])


def auto_url(profile: EsimProfile) -> str:
    return reverse("storefront:esim-auto-renew", args=[profile.iccid])


def detail_url(profile: EsimProfile) -> str:
    return reverse("storefront:esim-detail", args=[profile.iccid])


def renewal_orders(customer):
    return Order.objects.filter(customer=customer, lines__kind=OrderLine.Kind.RENEWAL)


# --- Renew --------------------------------------------------------------------------------


def test_the_renew_page_shows_the_card_its_period_end_the_plan_and_the_price(
    client, customer, plan, bigger, esim
):
    bundle = run_bundle(esim, ends_in=timedelta(days=10))
    client.force_login(customer)

    response = client.get(renew_url(esim))

    assert response.status_code == 200
    text = page_text(response)
    assert esim.iccid in text
    assert date_format(timezone.localtime(bundle.ends_at), "SHORT_DATETIME_FORMAT") in text
    assert "12.00 USD" in text and "20.00 USD" in text  # both plans, the running one checked
    assert re.search(rf'value="{plan.pk}" checked', response.content.decode())
    assert "The new period starts when the current one ends" in text


def test_the_renew_page_shows_prices_in_the_currency_chosen(client, customer, esim):
    client.force_login(customer)

    response = client.get(renew_url(esim) + "?currency=EUR")

    text = page_text(response)
    assert "11.00 EUR" in text
    assert "12.00 USD" not in text  # the other plan is not sold in EUR
    assert 'name="currency" value="EUR"' in response.content.decode()


def test_renewing_places_a_renewal_order_and_leads_to_its_page(client, customer, plan, esim):
    client.force_login(customer)
    token = str(uuid.uuid4())
    data = {"plan": str(plan.pk), "currency": "USD", "request_token": token}

    response = client.post(renew_url(esim), data)
    again = client.post(renew_url(esim), data)  # a double submit

    order = renewal_orders(customer).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("storefront:order-detail", args=[order.public_id])
    assert again["Location"] == response["Location"]
    line = order.lines.get()
    assert (line.kind, line.plan, line.profile, line.total) == (
        OrderLine.Kind.RENEWAL,
        plan,
        esim,
        Decimal("12.00"),
    )
    assert order.status == Order.Status.PENDING_PAYMENT
    assert order.currency == "USD"


def test_renewing_to_another_plan_in_another_currency(client, customer, plan, esim):
    client.force_login(customer)

    client.post(
        renew_url(esim),
        {"plan": str(plan.pk), "currency": "EUR", "request_token": str(uuid.uuid4())},
    )

    order = renewal_orders(customer).get()
    assert (order.currency, order.total) == ("EUR", Decimal("11.00"))


def test_a_plan_that_cannot_renew_the_card_is_an_error_and_places_nothing(client, customer, esim):
    elsewhere = plan_for_sale(price="5.00", stock=0, country="TH", code="th-1gb")
    client.force_login(customer)

    response = client.post(
        renew_url(esim),
        {"plan": str(elsewhere.pk), "currency": "USD", "request_token": str(uuid.uuid4())},
    )

    assert response.status_code == 200
    assert "Choose a plan." in page_text(response)
    assert not renewal_orders(customer).exists()


def test_a_refused_renewal_is_shown_on_the_form_and_places_nothing(client, customer, plan, esim):
    EsimProfile.objects.filter(pk=esim.pk).update(status=EsimProfile.Status.VOID)
    client.force_login(customer)

    response = client.post(
        renew_url(esim),
        {"plan": str(plan.pk), "currency": "USD", "request_token": str(uuid.uuid4())},
    )

    assert response.status_code == 200
    assert "cannot be renewed" in page_text(response) or "cannot be topped up" in page_text(
        response
    )
    assert not renewal_orders(customer).exists()


def test_another_customers_esim_is_not_found(client, esim):
    client.force_login(funded_customer("10.00"))

    assert client.get(renew_url(esim)).status_code == 404
    assert client.get(change_url(esim)).status_code == 404
    assert client.post(auto_url(esim), {"action": "off"}).status_code == 404
    assert client.post(renew_url(esim), {}).status_code == 404


def test_an_anonymous_visitor_signs_in_first_and_comes_back(client, esim):
    response = client.get(renew_url(esim))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={renew_url(esim)}"


# --- Auto-renewal ---------------------------------------------------------------------------


def test_the_esim_page_shows_auto_renewal_off_and_its_rule(client, customer, esim):
    client.force_login(customer)

    response = client.get(detail_url(esim))

    text = page_text(response)
    assert response.status_code == 200
    assert "Auto-renewal" in text
    assert "Turn on auto-renewal" in text
    assert "We charge your wallet first, then your saved card, 24 hours before" in text
    assert "we try again after 6 h and 18 h" in text
    assert "No card is saved" in text
    assert renew_url(esim) in text and change_url(esim) in text


def test_turning_auto_renewal_on_and_off(client, customer, plan, bigger, esim):
    client.force_login(customer)

    response = client.post(
        auto_url(esim), {"action": "on", "plan": str(bigger.pk), "currency": "USD"}
    )

    assert response.status_code == 302
    assert response["Location"] == detail_url(esim)
    auto = AutoRenewal.objects.get(profile=esim)
    assert (auto.enabled, auto.plan, auto.currency, auto.customer) == (
        True,
        bigger,
        "USD",
        customer,
    )
    text = page_text(client.get(detail_url(esim)))
    assert "Auto-renewal is on: Japan 10 GB, paid in USD." in text
    assert "Renews to Japan 10 GB, paid in USD." in text

    response = client.post(auto_url(esim), {"action": "off"})

    assert response.status_code == 302
    auto.refresh_from_db()
    assert auto.enabled is False
    assert "Auto-renewal is off." in page_text(client.get(detail_url(esim)))


def test_auto_renewal_to_a_plan_not_sold_in_the_currency_is_refused(client, customer, bigger, esim):
    client.force_login(customer)

    response = client.post(
        auto_url(esim), {"action": "on", "plan": str(bigger.pk), "currency": "EUR"}
    )

    assert response.status_code == 302
    assert not AutoRenewal.objects.exists()
    assert "cannot be chosen for this card in EUR" in page_text(client.get(detail_url(esim)))


def test_a_bad_auto_renewal_request_is_a_message_not_an_error(client, customer, esim):
    client.force_login(customer)

    for data in ({}, {"action": "sideways"}, {"action": "on", "plan": "x", "currency": "USD"}):
        response = client.post(auto_url(esim), data)
        assert response.status_code == 302
    assert not AutoRenewal.objects.exists()


def test_auto_renewal_turned_off_by_us_shows_why(client, customer, plan, esim):
    AutoRenewal.objects.create(
        profile=esim,
        customer=customer,
        plan=plan,
        currency="USD",
        enabled=False,
        disabled_reason="Your saved card was declined.",
    )
    client.force_login(customer)

    text = page_text(client.get(detail_url(esim)))

    assert "We turned auto-renewal off: Your saved card was declined." in text


# --- Plan change ------------------------------------------------------------------------------


def test_the_change_page_offers_other_plans_and_states_the_credit(
    client, customer, plan, bigger, esim, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    run_bundle(esim, ends_in=timedelta(days=15))  # half of 30 days left, no data used
    client.force_login(customer)

    response = client.get(change_url(esim))

    assert response.status_code == 200
    text = page_text(response)
    assert "we credit 6.00 USD to your wallet" in text
    assert "by days or by data, whichever is smaller" in text
    assert "Japan 10 GB" in text
    assert f'value="{plan.pk}"' not in response.content.decode()  # the running plan


@pytest.mark.parametrize(("when", "starts_now"), [("now", True), ("end", False)])
def test_changing_places_a_change_order(client, customer, bigger, esim, when, starts_now):
    run_bundle(esim, ends_in=timedelta(days=15))
    client.force_login(customer)

    response = client.post(
        change_url(esim),
        {"plan": str(bigger.pk), "when": when, "request_token": str(uuid.uuid4())},
    )

    order = Order.objects.get(customer=customer, lines__kind=OrderLine.Kind.CHANGE)
    assert response.status_code == 302
    assert response["Location"] == reverse("storefront:order-detail", args=[order.public_id])
    line = order.lines.get()
    assert (line.plan, line.profile, line.starts_now, order.total) == (
        bigger,
        esim,
        starts_now,
        Decimal("20.00"),
    )


def test_changing_to_the_running_plan_is_an_error(client, customer, plan, bigger, esim):
    run_bundle(esim, ends_in=timedelta(days=15))
    client.force_login(customer)

    response = client.post(
        change_url(esim),
        {"plan": str(plan.pk), "when": "now", "request_token": str(uuid.uuid4())},
    )

    assert response.status_code == 200
    assert "Choose a plan." in page_text(response)
    assert not Order.objects.filter(lines__kind=OrderLine.Kind.CHANGE).exists()


# --- Number keeping ---------------------------------------------------------------------------


def test_a_number_keeping_card_shows_when_to_keep_it_active(client):
    customer = funded_customer("100.00")
    keeper = plan_for_sale(
        price="3.00", name="HK number keeping", code="hk-keep", kind=Plan.Kind.NUMBER_KEEPING
    )
    _order, profile = bought_esim(customer, keeper)
    bundle = run_bundle(profile, ends_in=timedelta(days=20))
    client.force_login(customer)
    when = date_format(timezone.localtime(bundle.ends_at), "DATE_FORMAT")

    detail_page = client.get(detail_url(profile))
    listing_page = client.get(reverse("storefront:esims"))
    detail, listing = visible_text(detail_page), visible_text(listing_page)
    plan_page = page_text(client.get(reverse("storefront:plan-detail", args=[keeper.code])))

    assert f"Keep active by {when}" in detail
    assert renew_url(profile) in detail_page.content.decode()
    assert f"Keep active by {when}" in listing
    assert renew_url(profile) in listing_page.content.decode()
    assert "The number stays yours while a period of this plan runs." in plan_page
    assert "30, 7 and 1 days before" in plan_page


def test_an_ordinary_plan_page_has_no_keep_alive_rule(client, plan):
    text = page_text(client.get(reverse("storefront:plan-detail", args=[plan.code])))
    assert "The number stays yours" not in text


def test_an_ordinary_card_has_no_keep_active_date(client, customer, esim):
    client.force_login(customer)
    assert "Keep active by" not in page_text(client.get(detail_url(esim)))


# --- Languages --------------------------------------------------------------------------------


def test_the_pages_render_in_chinese(client, plan, bigger):
    customer = funded_customer("100.00", preferred_language="zh-hans")
    _order, profile = bought_esim(customer, plan)
    run_bundle(profile, ends_in=timedelta(days=15))
    AutoRenewal.objects.create(profile=profile, customer=customer, plan=plan, currency="USD")
    client.force_login(customer)

    for url in (detail_url(profile), renew_url(profile), change_url(profile)):
        response = client.get(url)
        assert response.status_code == 200, url
        assert '<html lang="zh-hans">' in response.content.decode(), url


def test_an_unverified_customer_cannot_renew(client, esim):
    client.force_login(UserFactory(verified=False))
    response = client.get(renew_url(esim))
    assert response.status_code != 200 or "renew-option" not in response.content.decode()


def test_a_plan_that_does_not_renew_says_so_instead_of_an_empty_panel(client, customer):
    plan = plan_for_sale(price="4.99", renewable=False)
    _order, profile = bought_esim(customer, plan)
    client.force_login(customer)
    response = client.get(detail_url(profile))
    assert response.status_code == 200
    text = visible_text(response)
    assert "This plan does not renew." in text
    assert renew_url(profile) not in response.content.decode()
