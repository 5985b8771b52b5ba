"""The admin: signed in through allauth, MFA for staff when required, roles' permissions."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth.models import Group

from accounts.roles import FINANCE, RESELLER_STAFF
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def staff(role: str | None = None, **kwargs):
    user = UserFactory(is_staff=True, **kwargs)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def test_admin_login_is_served_by_allauth(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"

    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"


def test_admin_login_is_rate_limited(client):
    staff(email="clerk@example.com")
    for attempt in range(5):
        client.post(
            "/accounts/login/?next=/admin/",
            {"login": "clerk@example.com", "password": f"x{attempt}"},
        )
    response = client.post(
        "/accounts/login/?next=/admin/", {"login": "clerk@example.com", "password": PASSWORD}
    )
    assert response.status_code == 429


def test_staff_signs_in_to_the_titled_console(client):
    staff(email="clerk@example.com")

    response = client.post(
        "/accounts/login/?next=/admin/", {"login": "clerk@example.com", "password": PASSWORD}
    )
    assert response["Location"] == "/admin/"
    response = client.get("/admin/")

    assert response.status_code == 200
    assert "Simdesk staff console" in response.content.decode()


def test_customer_is_refused_the_console(client):
    client.force_login(UserFactory())
    assert client.get("/admin/login/").status_code == 403
    assert client.get("/admin/").status_code == 302  # admin's own "not staff" redirect to login


def test_staff_without_mfa_is_sent_to_set_it_up_when_required(client, settings):
    settings.STAFF_MFA_REQUIRED = True
    staff(RESELLER_STAFF, email="clerk@example.com")
    client.post("/accounts/login/", {"login": "clerk@example.com", "password": PASSWORD})

    response = client.get("/admin/accounts/user/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/totp/activate/"
    # allauth asks for the password again before showing the TOTP secret.
    response = client.get(response["Location"])
    assert response["Location"].startswith("/accounts/reauthenticate/")
    response = client.post(response["Location"], {"password": PASSWORD})
    assert response["Location"] == "/accounts/2fa/totp/activate/"
    page = client.get(response["Location"]).content.decode()
    assert "Authenticator code" in page


def test_staff_with_mfa_reaches_the_console_when_required(client, settings):
    settings.STAFF_MFA_REQUIRED = True
    user = staff(RESELLER_STAFF)
    TOTP.activate(user, generate_totp_secret())
    client.force_login(user)

    assert client.get("/admin/").status_code == 200


def test_mfa_is_not_forced_when_the_setting_is_off(client, settings):
    settings.STAFF_MFA_REQUIRED = False
    client.force_login(staff(RESELLER_STAFF))
    assert client.get("/admin/").status_code == 200


def test_mfa_requirement_leaves_customers_alone(client, settings):
    settings.STAFF_MFA_REQUIRED = True
    client.force_login(UserFactory())
    assert client.get("/").status_code == 200


def test_roles_exist_with_their_permissions():
    assert set(
        Group.objects.get(name=RESELLER_STAFF).permissions.values_list("codename", flat=True)
    ) >= {"view_user"}
    assert set(Group.objects.get(name=FINANCE).permissions.values_list("codename", flat=True)) >= {
        "view_user"
    }


@pytest.mark.parametrize("role", [RESELLER_STAFF, FINANCE])
def test_roles_can_look_up_customers_but_not_edit_them_or_staff(client, role):
    customer = UserFactory(email="someone@example.com")
    client.force_login(staff(role))

    assert client.get("/admin/accounts/user/?q=someone").status_code == 200
    response = client.post(
        f"/admin/accounts/user/{customer.pk}/change/",
        {
            "email": "changed@example.com",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.email == "someone@example.com"
    # Groups and permissions are the superuser's to change.
    assert client.get("/admin/auth/group/").status_code == 403
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 403


def test_finance_clerk_cannot_edit_plans_and_reseller_can(client):
    from tests.catalog.factories import PlanFactory

    plan = PlanFactory()
    client.force_login(staff(FINANCE))
    assert client.get(f"/admin/catalog/plan/{plan.pk}/change/").status_code == 200  # read-only
    assert client.post(f"/admin/catalog/plan/{plan.pk}/change/", {"name": "x"}).status_code == 403
    assert client.get("/admin/catalog/plan/add/").status_code == 403

    client.force_login(staff(RESELLER_STAFF))
    assert client.get("/admin/catalog/plan/add/").status_code == 200


def test_profile_secrets_are_masked_without_the_dedicated_permission(client):
    from django.contrib.auth.models import Permission

    from tests.catalog.factories import PlanFactory, make_profiles

    (profile,) = make_profiles(PlanFactory(), 1)
    reseller = staff(RESELLER_STAFF)
    client.force_login(reseller)

    listing = client.get("/admin/catalog/esimprofile/").content.decode()
    detail = client.get(f"/admin/catalog/esimprofile/{profile.pk}/change/").content.decode()
    assert profile.iccid in listing
    assert profile.matching_id not in listing
    assert profile.matching_id not in detail

    reseller.user_permissions.add(Permission.objects.get(codename="view_profile_secrets"))
    client.force_login(reseller)
    assert profile.matching_id in client.get("/admin/catalog/esimprofile/").content.decode()


def test_profile_search_accepts_the_iccid_as_customers_type_it(client):
    from tests.catalog.factories import PlanFactory, make_profiles

    first, second = make_profiles(PlanFactory(), 2)
    client.force_login(staff(RESELLER_STAFF))
    typed = f"{first.iccid[:4]} {first.iccid[4:8]}-{first.iccid[8:]}"

    page = client.get("/admin/catalog/esimprofile/", {"q": typed}).content.decode()

    assert first.iccid in page
    assert second.iccid not in page


def test_plan_list_queries_do_not_grow_with_the_catalog(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.catalog.factories import PlanFactory, make_profiles

    client.force_login(staff(RESELLER_STAFF))

    def queries_for_plan_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/catalog/plan/").status_code == 200
        return len(captured)

    make_profiles(PlanFactory(code="p-0"), 3)
    few = queries_for_plan_list()
    for n in range(1, 30):
        make_profiles(PlanFactory(code=f"p-{n}"), 3, start=n * 10)
    assert queries_for_plan_list() == few
