"""Renewals in the staff console: reseller staff and finance read auto-renewals, the periods
charged and the reminders sent; nobody adds, changes or deletes them there."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.roles import FINANCE, RESELLER_STAFF
from billing.models import AutoRenewal, Reminder, Renewal, renewal_key
from catalog.models import Bundle
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGES = ("autorenewal", "renewal", "reminder")


@pytest.fixture
def card():
    plan = plan_for_sale(price="10.00")
    customer = funded_customer("20.00")
    _order, profile = bought_esim(customer, plan)
    bundle = profile.bundles.get()
    now = timezone.now()
    Bundle.objects.filter(pk=bundle.pk).update(
        status="active", starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=2)
    )
    AutoRenewal.objects.create(profile=profile, customer=customer, plan=plan, currency="USD")
    Renewal.objects.create(
        key=renewal_key(profile.pk, now + timedelta(days=2)),
        profile=profile,
        customer=customer,
        plan=plan,
        currency="USD",
        period_start=now + timedelta(days=2),
        next_attempt_at=now,
    )
    Reminder.objects.create(profile=profile, bundle=bundle, kind=Reminder.Kind.EXPIRY_3D)
    return profile


@pytest.mark.parametrize("role", [RESELLER_STAFF, FINANCE])
def test_staff_read_renewals_and_cannot_change_them(client, card, role):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    for page in PAGES:
        listing = client.get(f"/admin/billing/{page}/", {"q": card.iccid})
        assert listing.status_code == 200, page
        assert card.iccid in listing.content.decode(), page
        assert client.get(f"/admin/billing/{page}/add/").status_code == 403, page
    renewal = Renewal.objects.get()
    detail = client.get(f"/admin/billing/renewal/{renewal.pk}/change/")
    assert detail.status_code == 200
    assert renewal.key in detail.content.decode()
    assert (
        client.post(f"/admin/billing/renewal/{renewal.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert Renewal.objects.filter(pk=renewal.pk).exists()


def test_customers_cannot_reach_the_renewal_pages(client, card):
    client.force_login(card.owner)
    response = client.get("/admin/billing/renewal/")
    assert response.status_code == 302
