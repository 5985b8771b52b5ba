"""Change history of coupons and bonus tiers: who changed what, on the admin's History page."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from billing.models import BonusTier, Coupon
from billing.services.orders import LineRequest, order_place
from tests.admin_forms import change_form_data
from tests.billing.order_support import funded_customer, plan_for_sale
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

COUPONS = "/admin/billing/coupon/"
TIERS = "/admin/billing/bonustier/"


def whole_seconds_now():
    return timezone.now().replace(microsecond=0)


def staff_with(*codenames: str, email: str):
    user = UserFactory(is_staff=True, email=email)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="billing", codename__in=codenames)
    )
    return user


def edit(client, url: str, form_id: str, **changes) -> None:
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(url, change_form_data(page.content.decode(), form_id, **changes))
    assert response.status_code == 302, response.context["adminform"].form.errors


def test_a_coupon_edit_is_recorded_and_shown_on_its_history_page(client):
    # Whole seconds, as the form's date and time fields send it back.
    coupon = Coupon.objects.create(
        code="SPRING-10", kind="percent", percent=Decimal("10"), valid_from=whole_seconds_now()
    )
    clerk = staff_with("view_coupon", "change_coupon", email="clerk@example.com")
    client.force_login(clerk)

    edit(client, f"{COUPONS}{coupon.pk}/change/", "coupon_form", percent="15", max_uses="50")

    record = coupon.history.latest()
    assert (record.history_type, record.history_user) == ("~", clerk)
    delta = record.diff_against(record.prev_record)
    assert sorted(delta.changed_fields) == ["max_uses", "percent"]
    assert record.percent == Decimal("15")

    client.force_login(staff_with("view_coupon", email="finance@example.com"))
    page = client.get(f"{COUPONS}{coupon.pk}/history/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "clerk@example.com" in html
    assert "10.00" in html and "15.00" in html  # percentage off: old -> new
    assert "Total uses allowed:" in html  # the field, beside its old and new value
    # The History button of the coupon's page (billing's own change form) leads here.
    change_page = client.get(f"{COUPONS}{coupon.pk}/change/").content.decode()
    assert f'href="{COUPONS}{coupon.pk}/history/"' in change_page


def test_redemptions_do_not_fill_the_coupon_history():
    """A customer using a coupon moves its counter with a guarded update, not a new version."""
    coupon = Coupon.objects.create(code="SPRING-10", kind="percent", percent=Decimal("10"))
    before = coupon.history.count()
    plan = plan_for_sale(price="10.00")
    customer = funded_customer()
    order_place(
        customer=customer,
        currency="USD",
        lines=[LineRequest(kind="esim", plan=plan)],
        coupon_code="SPRING-10",
    )
    coupon.refresh_from_db()
    assert coupon.uses == 1
    assert coupon.history.count() == before


def test_a_bonus_tier_edit_is_recorded_and_shown_on_its_history_page(client):
    tier = BonusTier.objects.create(
        name="Top up 100, get 5%",
        currency="USD",
        min_amount=Decimal("100"),
        percent=Decimal("5"),
        starts_at=whole_seconds_now(),
    )
    clerk = staff_with("view_bonustier", "change_bonustier", email="clerk@example.com")
    client.force_login(clerk)

    edit(client, f"{TIERS}{tier.pk}/change/", "bonustier_form", min_amount="200.00")

    record = tier.history.latest()
    assert (record.history_type, record.history_user) == ("~", clerk)
    assert record.diff_against(record.prev_record).changed_fields == ["min_amount"]

    page = client.get(f"{TIERS}{tier.pk}/history/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "clerk@example.com" in html and "200.00" in html


def test_the_bonus_tier_history_needs_the_view_permission(client):
    tier = BonusTier.objects.create(
        name="Top up 100, get 5%", currency="USD", min_amount=Decimal("100"), percent=Decimal("5")
    )
    client.force_login(staff_with("view_coupon", email="other@example.com"))
    assert client.get(f"{TIERS}{tier.pk}/history/").status_code == 403
