"""Cards kept on the account: binding one with a label, refusals, the list, unbinding."""

import re
from html import unescape

import pytest
from django.urls import reverse

from catalog.models import CardBinding, EsimProfile
from catalog.services import card_bind
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale
from tests.catalog.factories import iccid as make_iccid
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CARDS = "/account/cards/"


def page_text(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.content.decode()))


@pytest.fixture
def customer():
    return funded_customer("100.00")


@pytest.fixture
def card(customer):
    _order, profile = bought_esim(customer, plan_for_sale(price="12.00", name="Japan 5 GB"))
    return profile


def test_the_routes(db):
    assert reverse("storefront:cards") == CARDS
    assert reverse("storefront:card-unbind", args=[7]) == "/account/cards/7/delete/"


def test_the_page_needs_signing_in(client):
    response = client.get(CARDS)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_binding_a_card_typed_with_spaces_lists_it(client, customer, card):
    client.force_login(customer)
    typed = " ".join(card.iccid[i : i + 4] for i in range(0, len(card.iccid), 4))

    response = client.post(CARDS, {"iccid": typed, "label": "Mum's phone"})

    assert response.status_code == 302
    binding = CardBinding.objects.get()
    assert (binding.customer, binding.profile, binding.label) == (customer, card, "Mum's phone")
    text = page_text(client.get(CARDS))
    assert "Mum's phone" in text
    assert card.iccid in text
    assert "Japan 5 GB" in text
    assert f"/topup-card/?iccid={card.iccid}" in text
    assert reverse("storefront:card-unbind", args=[binding.pk]) in text


def test_a_card_someone_else_bought_can_be_bound_too(client, card):
    # A parent tops up a child's card: the number is all it takes, as on the top-up page.
    other = UserFactory()
    client.force_login(other)
    assert client.post(CARDS, {"iccid": card.iccid, "label": "Kid"}).status_code == 302
    assert CardBinding.objects.get().customer == other


def test_binding_an_unknown_card_is_refused(client, customer):
    client.force_login(customer)
    response = client.post(CARDS, {"iccid": make_iccid(424_242), "label": "x"})
    assert response.status_code == 200
    assert "We did not sell a card with this number." in page_text(response)
    assert not CardBinding.objects.exists()


def test_binding_a_card_in_stock_is_refused(client, customer):
    plan = plan_for_sale(stock=1)
    in_stock = EsimProfile.objects.get(plan=plan)
    client.force_login(customer)
    response = client.post(CARDS, {"iccid": in_stock.iccid, "label": "x"})
    assert "We did not sell a card with this number." in page_text(response)
    assert not CardBinding.objects.exists()


def test_binding_nonsense_is_a_form_error(client, customer):
    client.force_login(customer)
    response = client.post(CARDS, {"iccid": "hello", "label": ""})
    assert "may contain only digits, spaces and dashes" in page_text(response)
    assert not CardBinding.objects.exists()


def test_binding_the_same_card_twice_is_refused(client, customer, card):
    client.force_login(customer)
    client.post(CARDS, {"iccid": card.iccid, "label": "one"})
    response = client.post(CARDS, {"iccid": card.iccid, "label": "two"})
    assert "This card is already on your account." in page_text(response)
    assert CardBinding.objects.get().label == "one"


def test_unbinding_removes_the_card_from_the_account_only(client, customer, card):
    binding = card_bind(customer=customer, iccid=card.iccid, label="mine")
    client.force_login(customer)

    response = client.post(reverse("storefront:card-unbind", args=[binding.pk]))

    assert response.status_code == 302
    assert not CardBinding.objects.exists()
    assert EsimProfile.objects.filter(pk=card.pk, owner=customer).exists()
    assert "No cards on your account yet." in page_text(client.get(CARDS))


def test_another_customers_binding_cannot_be_removed(client, customer, card):
    binding = card_bind(customer=customer, iccid=card.iccid, label="mine")
    client.force_login(UserFactory())
    client.post(reverse("storefront:card-unbind", args=[binding.pk]))
    assert CardBinding.objects.filter(pk=binding.pk).exists()


def test_unbinding_needs_a_post(client, customer, card):
    binding = card_bind(customer=customer, iccid=card.iccid, label="mine")
    client.force_login(customer)
    assert client.get(reverse("storefront:card-unbind", args=[binding.pk])).status_code == 405
    assert CardBinding.objects.exists()
