"""The customer's eSIM pages: the list, how to install one (QR code, activation code, manual
entry, iOS link), its bundles, and asking for a refund."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.models import Order, Refund
from billing.services.refunds import refund_reject
from catalog.install import ios_install_url
from catalog.models import EsimProfile
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def page_text(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.content.decode()))


@pytest.fixture
def customer():
    return funded_customer("100.00")


@pytest.fixture
def plan():
    return plan_for_sale(price="12.00", name="Japan 5 GB")


@pytest.fixture
def esim(customer, plan):
    return bought_esim(customer, plan)


def detail_url(profile: EsimProfile) -> str:
    return reverse("storefront:esim-detail", args=[profile.iccid])


def refund_url(profile: EsimProfile) -> str:
    return reverse("storefront:esim-refund", args=[profile.iccid])


def test_the_list_shows_each_esim_with_plan_status_and_bundle(client, customer, plan, esim):
    _order, profile = esim
    client.force_login(customer)

    response = client.get(reverse("storefront:esims"))

    assert response.status_code == 200
    text = page_text(response)
    assert "Japan 5 GB" in text
    assert profile.iccid in text
    assert "Assigned" in text
    assert detail_url(profile) in text
    assert "Queued" in text  # the first bundle waits for first use


def test_the_list_needs_a_verified_email(client):
    client.force_login(UserFactory(verified=False))
    response = client.get(reverse("storefront:esims"))
    assert response.status_code != 200 or "Verify" in response.content.decode()
    assert "esim-row" not in response.content.decode()


def test_the_owner_sees_how_to_install(client, customer, esim):
    _order, profile = esim
    client.force_login(customer)

    response = client.get(detail_url(profile))

    assert response.status_code == 200
    html = response.content.decode()
    text = page_text(response)
    assert re.search(
        r'<img src="data:image/svg\+xml[^"]+" alt="QR code to install this eSIM"', html
    )
    assert profile.activation_code == f"LPA:1$smdp.test.simdesk.test${profile.matching_id}"
    assert profile.activation_code in text
    assert 'data-copy="activation-code"' in html and "navigator.clipboard" in html
    assert f'data-testid="smdp-address">{profile.smdp_address}<' in html
    assert f'data-testid="matching-id">{profile.matching_id}<' in html
    assert ios_install_url(profile.activation_code) in text
    assert "Starts when you first connect" in text
    assert "iPhone" in text and "Android" in text
    topup = reverse("storefront:card-topup") + f"?iccid={profile.iccid}"
    assert topup in text


def test_the_confirmation_code_is_shown_when_there_is_one(client, customer, esim):
    _order, profile = esim
    EsimProfile.objects.filter(pk=profile.pk).update(confirmation_code="4321")
    client.force_login(customer)
    html = client.get(detail_url(profile)).content.decode()
    assert 'data-testid="confirmation-code">4321<' in html


def test_another_customers_esim_is_not_found(client, esim):
    _order, profile = esim
    client.force_login(UserFactory())
    assert client.get(detail_url(profile)).status_code == 404
    assert client.post(refund_url(profile), {"reason": "x"}).status_code == 404
    assert not Refund.objects.exists()


def test_a_refund_request_is_recorded_and_its_status_shown(client, customer, esim):
    order, profile = esim
    client.force_login(customer)
    page = page_text(client.get(detail_url(profile)))
    assert "Request a refund" in page
    assert "within 14 days of purchase" in page

    response = client.post(refund_url(profile), {"reason": "Trip canceled"})

    assert response.status_code == 302
    assert response["Location"] == detail_url(profile)
    refund = Refund.objects.get()
    assert (refund.order, refund.profile, refund.status) == (
        order,
        profile,
        Refund.Status.REQUESTED,
    )
    assert refund.amount == order.total
    assert refund.reason == "Trip canceled"
    assert refund.requested_by == customer
    text = page_text(client.get(detail_url(profile)))
    assert "Waiting for review" in text
    assert "12.00 USD" in text
    assert "Request a refund" not in text  # not twice


def test_a_rejected_refund_shows_the_decision_note(client, customer, esim):
    _order, profile = esim
    client.force_login(customer)
    client.post(refund_url(profile), {"reason": ""})
    refund_reject(
        refund_id=Refund.objects.get().pk,
        actor=UserFactory(is_staff=True),
        note="The eSIM was downloaded.",
    )
    text = page_text(client.get(detail_url(profile)))
    assert "Rejected" in text
    assert "The eSIM was downloaded." in text


def test_a_second_request_is_refused(client, customer, esim):
    _order, profile = esim
    client.force_login(customer)
    client.post(refund_url(profile), {"reason": "first"})

    response = client.post(refund_url(profile), {"reason": "second"}, follow=True)

    assert Refund.objects.count() == 1
    assert "A refund of this eSIM is already being reviewed." in page_text(response)


def test_no_refund_once_installed(client, customer, esim):
    _order, profile = esim
    EsimProfile.objects.filter(pk=profile.pk).update(status=EsimProfile.Status.INSTALLED)
    client.force_login(customer)

    page = page_text(client.get(detail_url(profile)))
    assert "Request a refund" not in page
    assert "if it has not been installed or used" in page  # the policy, not an error
    assert "cannot be refunded" not in page

    response = client.post(refund_url(profile), {"reason": "please"}, follow=True)
    assert "This eSIM has been installed or used, so it cannot be refunded." in page_text(response)
    assert not Refund.objects.exists()


def test_no_refund_after_the_window(client, customer, esim):
    order, profile = esim
    days = settings.SIMDESK_REFUND_WINDOW_DAYS
    Order.objects.filter(pk=order.pk).update(paid_at=timezone.now() - timedelta(days=days, hours=1))
    client.force_login(customer)

    assert "Request a refund" not in page_text(client.get(detail_url(profile)))
    response = client.post(refund_url(profile), {"reason": "late"}, follow=True)
    assert f"Refunds can be requested within {days} days of purchase." in page_text(response)
    assert not Refund.objects.exists()


def _extra_esims(customer, count: int) -> None:
    for n in range(count):
        bought_esim(customer, plan_for_sale(price="1.00", stock=1, code=f"extra-{count}-{n}"))


@pytest.mark.parametrize("path", ["storefront:esims", "storefront:cards"])
def test_list_queries_do_not_grow_with_the_esims(client, path):
    from catalog.services import card_bind

    counts = []
    for extra in (2, 20):
        customer = funded_customer("100.00")
        _extra_esims(customer, extra)
        for profile in EsimProfile.objects.filter(owner=customer):
            card_bind(customer=customer, iccid=profile.iccid, label=profile.iccid[-4:])
        client.force_login(customer)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(path))
        assert response.status_code == 200
        assert response.content.decode().count("<code>") >= extra
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
