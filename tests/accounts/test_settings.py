import re

import pytest
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.urls import reverse

from accounts.currency import CURRENCY_COOKIE
from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SETTINGS = reverse("accounts:settings")


def test_settings_need_sign_in(client):
    response = client.get(SETTINGS)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_settings_need_a_verified_email(client):
    client.force_login(UserFactory(verified=False))
    response = client.get(SETTINGS)
    assert response.status_code == 200
    assert 'name="currency"' not in response.content.decode()


def test_settings_page_links_to_every_part_of_the_account(client):
    client.force_login(UserFactory())

    page = client.get(SETTINGS).content.decode()

    for name in [
        "account_email",
        "account_change_password",
        "mfa_index",
        "storefront:cards",
        "storefront:support-requests",
    ]:
        assert f'href="{reverse(name)}"' in page, name
    assert '<select name="language"' in page
    assert '<select name="currency"' in page
    assert '<option value="USD" selected>USD · US dollar</option>' in page
    assert '<label for="id_currency">Currency</label>' in page
    assert f'<a href="{SETTINGS}" aria-current="page">' in page


def test_settings_save_language_and_currency(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(SETTINGS, {"language": "zh-hans", "currency": "CNY"})

    assert response.status_code == 302
    assert response["Location"] == SETTINGS
    user = User.objects.get(pk=user.pk)
    assert (user.preferred_language, user.preferred_currency) == ("zh-hans", "CNY")
    assert response.cookies[CURRENCY_COOKIE].value == "CNY"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    page = client.get(SETTINGS).content.decode()
    assert '<html lang="zh-hans">' in page
    assert '<option value="CNY" selected>' in page
    assert "message-success" in page


def test_settings_refuse_an_unknown_currency(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(SETTINGS, {"language": "zh-hans", "currency": "GBP"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    user = User.objects.get(pk=user.pk)
    assert (user.preferred_language, user.preferred_currency) == ("en", "USD")


def _mfa_state(page: str) -> str:
    return re.search(r'class="status[^"]*mfa-state">(\w+)</span>', page).group(1)


def test_settings_show_whether_two_factor_is_on(client):
    user = UserFactory()
    client.force_login(user)
    assert _mfa_state(client.get(SETTINGS).content.decode()) == "Off"

    Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
    assert _mfa_state(client.get(SETTINGS).content.decode()) == "On"


def test_allauth_pages_share_the_account_navigation(client):
    client.force_login(UserFactory())
    page = client.get(reverse("account_email")).content.decode()
    assert f'<a href="{SETTINGS}">' in page
    assert f'<a href="{reverse("account_email")}" aria-current="page">' in page
    assert f'href="{reverse("storefront:cards")}"' in page


# --- The layout --------------------------------------------------------------------------------


def test_visitors_home_page_carries_no_csrf_token(client):
    page = client.get("/").content.decode()
    assert "csrfmiddlewaretoken" not in page
    assert "Sign out" not in page
    assert f'href="{reverse("account_login")}"' in page


def test_signed_in_header_has_the_account_links_and_the_sign_out_form(client):
    client.force_login(UserFactory())

    page = client.get("/").content.decode()

    assert re.search(
        rf'<form method="post" action="{reverse("account_logout")}"[^>]*>\s*'
        r'<input type="hidden" name="csrfmiddlewaretoken"',
        page,
    )
    for name in ["storefront:esims", "storefront:orders", "storefront:wallet", "accounts:settings"]:
        assert f'href="{reverse(name)}"' in page, name
    assert f'href="{reverse("admin:index")}"' not in page
    assert f'href="{reverse("account_login")}"' not in page


def test_staff_see_the_staff_console_link(client):
    client.force_login(UserFactory(is_staff=True))
    assert f'href="{reverse("admin:index")}"' in client.get("/").content.decode()


def test_header_and_footer_links(client):
    page = client.get("/").content.decode()
    assert "<summary" in page and "Menu" in page
    for name in [
        "storefront:destinations",
        "storefront:card-topup",
        "storefront:help",
        "storefront:devices",
        "storefront:contact",
        "account_signup",
    ]:
        assert f'href="{reverse(name)}' in page, name
    assert f'href="{reverse("storefront:help")}#refunds"' in page
