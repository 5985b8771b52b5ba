"""Change history of plans, their prices and eSIM profiles: who changed what, shown on the
admin's History page; a profile's secrets never reach it."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from djmoney.money import Money

from catalog.forms import price_field_name
from catalog.importing import profiles_import
from catalog.models import EsimProfile, Plan, PlanPrice
from catalog.services import profiles_set_status
from tests.admin_forms import change_form_data
from tests.catalog.factories import PlanFactory, iccid, make_profiles
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PLANS = "/admin/catalog/plan/"
PROFILES = "/admin/catalog/esimprofile/"
OLD_MATCHING_ID = "OLD-MATCH-7Q2K"
NEW_MATCHING_ID = "NEW-MATCH-9XZ4"
OLD_CODE = "81736455"
NEW_CODE = "20485511"


def staff_with(*codenames: str, email: str):
    user = UserFactory(is_staff=True, email=email)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="catalog", codename__in=codenames)
    )
    return user


@pytest.fixture
def plan() -> Plan:
    plan = PlanFactory(code="jp-5gb", name="Japan 5 GB")
    PlanPrice.objects.create(plan=plan, price=Money(Decimal("10.00"), "USD"))
    return plan


def edit(client, url: str, form_id: str, **changes):
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(url, change_form_data(page.content.decode(), form_id, **changes))
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


def test_a_staff_edit_of_a_plan_records_who_changed_what(client, plan):
    clerk = staff_with("view_plan", "change_plan", email="clerk@example.com")
    client.force_login(clerk)

    edit(
        client,
        f"{PLANS}{plan.pk}/change/",
        "plan_form",
        name="Japan 5 GB (new)",
        **{price_field_name("USD"): "12.50"},
    )

    record = plan.history.latest()
    assert (record.history_type, record.history_user) == ("~", clerk)
    assert record.name == "Japan 5 GB (new)"
    delta = record.diff_against(record.prev_record)
    assert delta.changed_fields == ["name"]
    assert (delta.changes[0].old, delta.changes[0].new) == ("Japan 5 GB", "Japan 5 GB (new)")
    price = PlanPrice.history.filter(plan_id=plan.pk).latest()
    assert (price.history_type, price.history_user) == ("~", clerk)
    assert price.price == Money(Decimal("12.50"), "USD")
    # The price change audit stays beside it.
    change = plan.price_changes.get()
    assert (change.old_amount, change.new_amount, change.changed_by) == (
        Decimal("10.00"),
        Decimal("12.50"),
        clerk,
    )


def test_the_history_page_lists_the_change_and_the_prices(client, plan):
    clerk = staff_with("view_plan", "change_plan", email="clerk@example.com")
    client.force_login(clerk)
    edit(
        client,
        f"{PLANS}{plan.pk}/change/",
        "plan_form",
        name="Japan 5 GB (new)",
        **{price_field_name("USD"): "12.50"},
    )

    client.force_login(staff_with("view_plan", email="reader@example.com"))
    page = client.get(f"{PLANS}{plan.pk}/history/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "clerk@example.com" in html
    assert "Japan 5 GB (new)" in html
    assert "Japan 5 GB" in html and "&rarr;" in html  # the field's old and new value
    prices = html[html.index('id="price-history"') :]
    assert "12.50" in prices and "10.00" in prices and "clerk@example.com" in prices
    assert [(v.old, v.new) for v in page.context["price_history"]] == [
        (Decimal("10.00"), Decimal("12.50")),
        (None, Decimal("10.00")),
    ]
    # The change form's History button leads here.
    change_page = client.get(f"{PLANS}{plan.pk}/change/").content.decode()
    assert f'href="{PLANS}{plan.pk}/history/"' in change_page


def test_the_history_page_needs_the_view_permission(client, plan):
    client.force_login(staff_with("view_esimprofile", email="other@example.com"))
    assert client.get(f"{PLANS}{plan.pk}/history/").status_code == 403


def test_history_is_a_record_an_old_version_cannot_be_saved_back(client, plan):
    clerk = staff_with("view_plan", "change_plan", email="clerk@example.com")
    client.force_login(clerk)
    edit(client, f"{PLANS}{plan.pk}/change/", "plan_form", name="Japan 5 GB (new)")
    first = plan.history.earliest()
    url = f"{PLANS}{plan.pk}/history/{first.history_id}/"

    page = client.get(url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # no Revert button
    assert client.post(url, {"name": "Japan 5 GB", "_save": "Revert"}).status_code == 403
    plan.refresh_from_db()
    assert plan.name == "Japan 5 GB (new)"


# --- eSIM profiles: the secrets stay out of history ----------------------------------------


def secrets_in_history_rows() -> list[str]:
    """Every value stored in the profiles' history table that holds a secret."""
    found = []
    for row in EsimProfile.history.values():
        for value in row.values():
            if any(s in str(value) for s in (OLD_MATCHING_ID, NEW_MATCHING_ID, OLD_CODE, NEW_CODE)):
                found.append(str(value))
    return found


def test_a_profile_edit_is_recorded_without_its_secrets(client):
    plan = PlanFactory(code="jp-5gb")
    other = PlanFactory(code="jp-10gb")
    (profile,) = make_profiles(plan, 1)
    EsimProfile.objects.filter(pk=profile.pk).update(
        matching_id=OLD_MATCHING_ID, confirmation_code=OLD_CODE
    )
    # The clerk may even see and change the secrets: history still never holds them.
    clerk = staff_with(
        "view_esimprofile",
        "change_esimprofile",
        "view_profile_secrets",
        email="clerk@example.com",
    )
    client.force_login(clerk)
    url = f"{PROFILES}{profile.pk}/change/"
    assert OLD_MATCHING_ID in client.get(url).content.decode()  # the field is on the form

    edit(
        client,
        url,
        "esimprofile_form",
        plan=str(other.pk),
        matching_id=NEW_MATCHING_ID,
        confirmation_code=NEW_CODE,
    )
    edit(client, url, "esimprofile_form", plan=str(plan.pk))

    profile.refresh_from_db()
    assert (profile.matching_id, profile.confirmation_code) == (NEW_MATCHING_ID, NEW_CODE)
    records = list(profile.history.order_by("history_id"))
    assert [(r.history_type, r.history_user) for r in records] == [
        ("~", clerk),
        ("~", clerk),
    ]
    assert records[0].plan_id == other.pk
    history_fields = {f.name for f in EsimProfile.history.model._meta.get_fields()}
    assert not history_fields & {"matching_id", "confirmation_code"}
    assert secrets_in_history_rows() == []

    history_page = client.get(f"{PROFILES}{profile.pk}/history/")
    assert history_page.status_code == 200
    pages = [history_page.content.decode()]
    assert "clerk@example.com" in pages[0] and other.name in pages[0]  # plan: old -> new
    for record in records:
        version = client.get(f"{PROFILES}{profile.pk}/history/{record.history_id}/")
        assert version.status_code == 200
        pages.append(version.content.decode())
    for html in pages:
        for secret in (OLD_MATCHING_ID, NEW_MATCHING_ID, OLD_CODE, NEW_CODE):
            assert secret not in html
        assert "LPA:1$" not in html  # nor the activation code built from them


def test_imported_profiles_get_a_history_row_signed_by_the_importer_without_secrets():
    PlanFactory(code="jp-5gb")
    clerk = staff_with(email="clerk@example.com")
    data = (
        "iccid,activation_code,confirmation_code,plan,cost\r\n"
        f"{iccid(1)},LPA:1$smdp.example.com${OLD_MATCHING_ID},{OLD_CODE},jp-5gb,3.20\r\n"
        f"{iccid(2)},LPA:1$smdp.example.com${NEW_MATCHING_ID},,jp-5gb,3.20\r\n"
    ).encode()

    batch = profiles_import(data=data, file_name="stock.csv", actor=clerk)

    assert EsimProfile.objects.get(iccid=iccid(1)).matching_id == OLD_MATCHING_ID
    records = EsimProfile.history.order_by("iccid")
    assert [(r.iccid, r.history_type, r.history_user) for r in records] == [
        (iccid(1), "+", clerk),
        (iccid(2), "+", clerk),
    ]
    assert {r.history_change_reason for r in records} == {f"CSV import, batch {batch.pk}"}
    assert secrets_in_history_rows() == []


def test_status_changes_by_the_services_are_not_in_history():
    """Reservations, sales and voids go through guarded updates: the status's own timestamps
    and the orders record them, not this history (a known limit)."""
    plan = PlanFactory()
    (profile,) = make_profiles(plan, 1)
    profiles_set_status(profile_ids=[profile.pk], status=EsimProfile.Status.VOID)
    assert not profile.history.exists()
