"""Topping up a card by its number (ICCID): looking it up (signed in or not), the add-ons
that fit, buying one (an order with the price copied), renewing, and the repeat guard."""

import re
import uuid
from datetime import timedelta
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.models import Order, OrderLine
from catalog.models import EsimProfile, Plan, PlanPrice
from catalog.services import card_bind
from tests.billing.order_support import addon_for, bought_esim, funded_customer, plan_for_sale
from tests.catalog.factories import iccid as make_iccid
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOPUP = "/topup-card/"
BUY = "/topup-card/buy/"


def page_text(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.content.decode()))


def spaced(iccid: str) -> str:
    """'8986 0000-0000 5000 0001' style: how numbers are printed on cards."""
    groups = [iccid[i : i + 4] for i in range(0, len(iccid), 4)]
    return " ".join(groups[:2]) + "-" + " ".join(groups[2:])


@pytest.fixture
def customer():
    return funded_customer("100.00")


@pytest.fixture
def plan():
    return plan_for_sale(price="12.00", name="Japan 5 GB")


@pytest.fixture
def addon(plan):
    return addon_for(plan, price="3.00", data_mb=1024)


@pytest.fixture
def card(customer, plan):
    _order, profile = bought_esim(customer, plan)
    return profile


def buy(client, profile, option, *, confirm=False, currency="USD", token=None, iccid=None):
    data = {
        "iccid": iccid or profile.iccid,
        "option": option,
        "currency": currency,
        "request_token": str(token or uuid.uuid4()),
    }
    if confirm:
        data["confirm"] = "1"
    return client.post(BUY, data)


def test_the_routes(db):
    assert reverse("storefront:card-topup") == TOPUP
    assert reverse("storefront:card-topup-buy") == BUY


def test_the_page_opens_without_signing_in(client):
    response = client.get(TOPUP)
    assert response.status_code == 200
    assert 'name="iccid"' in response.content.decode()


def test_an_unknown_card_is_a_clear_message_and_nothing_else(client, addon):
    response = client.get(TOPUP, {"iccid": make_iccid(999_999)})
    text = page_text(response)
    assert response.status_code == 200
    assert "We did not sell a card with this number." in text
    assert 'data-testid="card-option"' not in text
    assert 'data-testid="card-plan"' not in text


def test_a_number_that_cannot_be_an_iccid_is_a_form_error(client):
    text = page_text(client.get(TOPUP, {"iccid": "12345"}))
    assert "A card number (ICCID) starts with 89." in text


def test_a_card_typed_with_spaces_and_dashes_is_found_without_signing_in(client, card, plan, addon):
    typed = spaced(card.iccid)
    assert " " in typed and "-" in typed

    response = client.get(TOPUP, {"iccid": typed})

    text = page_text(response)
    assert 'data-testid="card-plan">Japan 5 GB<' in text
    assert 'data-testid="card-coverage">Japan<' in text
    assert card.iccid in text
    assert "Japan 5 GB add-on 1024 MB" in text
    assert "3.00 USD" in text
    assert "Starts when the current bundle ends" in text
    assert "Renew Japan 5 GB" in text and "12.00 USD" in text
    assert f'value="addon-{addon.pk}"' in text
    assert 'data-testid="bundle-row"' in text and "Current" in text  # the card's bundle
    assert "Did you mistype it?" not in text


def test_a_bad_check_digit_is_a_hint_and_the_card_is_still_looked_up(client, customer, card):
    good = make_iccid(777_777)
    wrong = good[:-1] + str((int(good[-1]) + 1) % 10)
    EsimProfile.objects.create(
        iccid=wrong,
        smdp_address="smdp.test.simdesk.test",
        matching_id="MATCH-BAD",
        plan=card.plan,
        wholesale_cost=card.wholesale_cost,
        status=EsimProfile.Status.ASSIGNED,
        owner=customer,
    )
    text = page_text(client.get(TOPUP, {"iccid": wrong}))
    assert "Did you mistype it?" in text
    assert 'data-testid="card-plan">Japan 5 GB<' in text


def test_an_expired_card_is_a_message(client, card, addon):
    EsimProfile.objects.filter(pk=card.pk).update(status=EsimProfile.Status.EXPIRED)
    text = page_text(client.get(TOPUP, {"iccid": card.iccid}))
    assert "This card has expired or was voided; it cannot be topped up." in text
    assert 'data-testid="card-option"' not in text


def test_an_expired_card_cannot_be_bought_for(client, customer, card, addon):
    EsimProfile.objects.filter(pk=card.pk).update(status=EsimProfile.Status.EXPIRED)
    client.force_login(customer)
    response = buy(client, card, f"addon-{addon.pk}")
    assert response.status_code == 200
    assert "This card has expired or was voided" in page_text(response)
    assert Order.objects.count() == 1  # only the eSIM bought first


def test_addons_in_another_currency_are_not_offered(client, card, addon):
    text = page_text(client.get(TOPUP, {"iccid": card.iccid, "currency": "CNY"}))
    assert f"addon-{addon.pk}" not in text
    assert "No add-ons are sold for this card's plan" in text


def test_buying_needs_signing_in_and_keeps_the_number(client, card, addon):
    typed = spaced(card.iccid)
    response = buy(client, card, f"addon-{addon.pk}", iccid=typed)
    assert response.status_code == 302
    location = urlparse(response["Location"])
    assert location.path == reverse("account_login")
    back = urlparse(parse_qs(location.query)["next"][0])
    assert back.path == TOPUP
    assert parse_qs(back.query) == {"iccid": [typed]}
    assert Order.objects.count() == 1


def test_buying_an_addon_places_an_order_with_the_price_copied(client, customer, card, addon):
    client.force_login(customer)

    response = buy(client, card, f"addon-{addon.pk}")

    order = Order.objects.exclude(lines__kind=OrderLine.Kind.ESIM).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("storefront:order-detail", args=[order.public_id])
    assert order.status == Order.Status.PENDING_PAYMENT
    assert (order.customer, order.currency, order.total) == (customer, "USD", Decimal("3.00"))
    line = order.lines.get()
    assert (line.kind, line.plan, line.profile) == (OrderLine.Kind.ADDON, addon, card)
    assert line.unit_price == Decimal("3.00")
    # Copied: a later price change does not touch the line.
    PlanPrice.objects.filter(plan=addon).update(price=Decimal("9.00"))
    line.refresh_from_db()
    assert line.unit_price == Decimal("3.00")


def test_the_same_page_posted_twice_places_one_order(client, customer, card, addon):
    client.force_login(customer)
    token = uuid.uuid4()
    first = buy(client, card, f"addon-{addon.pk}", token=token)
    second = buy(client, card, f"addon-{addon.pk}", token=token)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Order.objects.filter(lines__kind=OrderLine.Kind.ADDON).count() == 1


def test_renewing_places_a_renewal_line(client, customer, card, plan):
    client.force_login(customer)
    response = buy(client, card, f"renewal-{plan.pk}")
    assert response.status_code == 302
    line = OrderLine.objects.get(kind=OrderLine.Kind.RENEWAL)
    assert (line.plan, line.profile, line.unit_price) == (plan, card, Decimal("12.00"))


def test_no_renewal_for_a_plan_that_is_not_renewable(client, customer, card, plan):
    Plan.objects.filter(pk=plan.pk).update(renewable=False)
    assert "Renew Japan 5 GB" not in page_text(client.get(TOPUP, {"iccid": card.iccid}))
    client.force_login(customer)
    response = buy(client, card, f"renewal-{plan.pk}")
    assert response.status_code == 200
    assert "cannot renew this card" in page_text(response)
    assert not OrderLine.objects.filter(kind=OrderLine.Kind.RENEWAL).exists()


def test_an_addon_that_does_not_fit_is_refused_and_nothing_written(client, customer, card, addon):
    other_base = plan_for_sale(price="8.00", country="FR", name="France 3 GB")
    stranger = addon_for(other_base, price="2.00", data_mb=512)
    client.force_login(customer)
    orders_before = Order.objects.count()

    response = buy(client, card, f"addon-{stranger.pk}")

    assert response.status_code == 200
    assert "does not fit this card's plan" in page_text(response)
    assert Order.objects.count() == orders_before
    assert not OrderLine.objects.filter(plan=stranger).exists()
    assert card.bundles.count() == 1


def test_an_unknown_option_is_a_form_error(client, customer, card):
    client.force_login(customer)
    response = buy(client, card, "esim-1")
    assert "This option is not available for this card." in page_text(response)
    assert Order.objects.count() == 1


def test_buying_again_within_minutes_asks_first(client, customer, card, addon):
    client.force_login(customer)
    buy(client, card, f"addon-{addon.pk}")
    first = Order.objects.get(lines__kind=OrderLine.Kind.ADDON)
    Order.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(minutes=4))

    response = buy(client, card, f"addon-{addon.pk}")

    assert response.status_code == 200
    text = page_text(response)
    assert "You bought Japan 5 GB add-on 1024 MB for this card 4 minutes ago. Buy it again?" in text
    assert 'name="confirm"' in text
    assert Order.objects.filter(lines__kind=OrderLine.Kind.ADDON).count() == 1

    confirmed = buy(client, card, f"addon-{addon.pk}", confirm=True)

    assert confirmed.status_code == 302
    assert Order.objects.filter(lines__kind=OrderLine.Kind.ADDON).count() == 2


def test_no_question_after_the_repeat_window_or_for_another_plan(client, customer, card, addon):
    other = addon_for(card.plan, price="5.00", data_mb=2048)
    client.force_login(customer)
    buy(client, card, f"addon-{addon.pk}")
    assert buy(client, card, f"addon-{other.pk}").status_code == 302
    Order.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    assert buy(client, card, f"addon-{addon.pk}").status_code == 302
    assert Order.objects.filter(lines__kind=OrderLine.Kind.ADDON).count() == 3


def test_a_canceled_order_is_no_repeat(client, customer, card, addon):
    client.force_login(customer)
    buy(client, card, f"addon-{addon.pk}")
    Order.objects.filter(lines__kind=OrderLine.Kind.ADDON).update(status=Order.Status.CANCELED)
    assert buy(client, card, f"addon-{addon.pk}").status_code == 302


def test_signed_in_customers_choose_a_bound_card(client, customer, card, addon):
    card_bind(customer=customer, iccid=card.iccid, label="Mum's phone")
    client.force_login(customer)
    text = page_text(client.get(TOPUP))
    assert f'<option value="{card.iccid}">Mum\'s phone · {card.iccid}</option>' in text

    found = page_text(client.get(TOPUP, {"card": card.iccid}))
    assert 'data-testid="card-plan">Japan 5 GB<' in found
    assert f"addon-{addon.pk}" in found


def test_the_lookup_queries_do_not_grow_with_the_plans(client):
    counts = []
    for extra in (2, 20):
        customer = funded_customer("100.00")
        base = plan_for_sale(price="10.00", stock=1, code=f"base-{extra}")
        _order, profile = bought_esim(customer, base)
        for n in range(extra):
            addon_for(base, price=f"{n + 1}.00", data_mb=100 + n)
            plan_for_sale(price="4.00", stock=1, code=f"noise-{extra}-{n}")
        card_bind(customer=customer, iccid=profile.iccid, label="mine")
        client.force_login(customer)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(TOPUP, {"iccid": profile.iccid})
        assert response.content.decode().count('data-testid="card-option"') == extra + 1
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_an_unverified_customer_cannot_buy(client, card, addon):
    client.force_login(UserFactory(verified=False))
    response = buy(client, card, f"addon-{addon.pk}")
    assert Order.objects.count() == 1
    assert response.status_code in (200, 302)
    assert "order-detail" not in response.get("Location", "")
