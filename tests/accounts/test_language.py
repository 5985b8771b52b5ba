import re

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SWITCH = reverse("accounts:language-set")


def test_visitor_switches_to_chinese_and_back(client):
    assert "How it works" in client.get("/").content.decode()

    response = client.post(SWITCH, {"language": "zh-hans", "next": "/"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    page = client.get("/").content.decode()
    assert "使用方法" in page
    assert '<html lang="zh-hans">' in page

    client.post(SWITCH, {"language": "en", "next": "/"})
    assert "How it works" in client.get("/").content.decode()


def test_browser_language_is_used_until_the_visitor_chooses(client):
    page = client.get("/", headers={"accept-language": "zh-CN,zh;q=0.9"}).content.decode()
    assert "使用方法" in page


def test_switcher_is_on_every_page(client):
    for url in ["/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]:
        page = client.get(url).content.decode()
        assert f'href="{SWITCH}?language=zh-hans&amp;next=' in page, url
        assert "简体中文" in page, url


def test_choice_is_saved_on_the_profile_and_follows_the_user(client):
    user = UserFactory(email="li@example.com")
    client.force_login(user)

    client.post(SWITCH, {"language": "zh-hans", "next": "/"})
    user.refresh_from_db()
    assert user.preferred_language == "zh-hans"

    # Another device, with an English browser: signing in brings Chinese back.
    other = type(client)()
    other.post("/accounts/login/", {"login": "li@example.com", "password": PASSWORD})
    page = other.get("/", headers={"accept-language": "en"}).content.decode()
    assert "使用方法" in page


def test_unknown_language_changes_nothing(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(SWITCH, {"language": "xx", "next": "/"})
    assert response.status_code == 302
    assert User.objects.get(pk=user.pk).preferred_language == "en"


def test_switch_does_not_redirect_off_site(client):
    response = client.post(SWITCH, {"language": "en", "next": "https://evil.example.com/"})
    assert response["Location"] == "/"


# --- The switcher as a GET link -------------------------------------------------------------


def test_get_link_sets_the_cookie_and_goes_back(client):
    response = client.get(SWITCH, {"language": "zh-hans", "next": "/countries/jp/?days=7"})

    assert response.status_code == 302
    assert response["Location"] == "/countries/jp/?days=7"
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "zh-hans"
    assert cookie["max-age"] == settings.LANGUAGE_COOKIE_AGE
    assert "no-store" in response["Cache-Control"]
    assert "使用方法" in client.get("/").content.decode()


def test_get_link_saves_the_signed_in_customers_choice(client):
    user = UserFactory()
    client.force_login(user)

    client.get(SWITCH, {"language": "zh-hans", "next": "/"})

    assert User.objects.get(pk=user.pk).preferred_language == "zh-hans"


def test_get_link_with_an_unknown_language_changes_nothing(client):
    user = UserFactory()
    client.force_login(user)

    response = client.get(SWITCH, {"language": "xx", "next": "/help/"})

    assert response.status_code == 302
    assert response["Location"] == "/help/"
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert User.objects.get(pk=user.pk).preferred_language == "en"


def test_get_link_without_a_language_changes_nothing(client):
    response = client.get(SWITCH)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


@pytest.mark.parametrize(
    "next_url", ["https://evil.example.com/", "//evil.example.com/", "javascript:alert(1)"]
)
def test_get_link_does_not_redirect_off_site(client, next_url):
    response = client.get(SWITCH, {"language": "en", "next": next_url})
    assert response["Location"] == "/"


def test_get_link_drops_currency_from_next(client):
    response = client.get(SWITCH, {"language": "en", "next": "/countries/jp/?currency=EUR&days=7"})
    assert response["Location"] == "/countries/jp/?days=7"


def test_switcher_marks_the_current_language_and_points_back_here(client):
    client.get(SWITCH, {"language": "zh-hans", "next": "/"})
    page = client.get("/?ref=mail&currency=EUR").content.decode()

    chinese = re.findall(r"<a [^>]*>简体中文</a>", page)
    english = re.findall(r"<a [^>]*>English</a>", page)
    assert len(chinese) == len(english) == 2  # header and footer
    assert all('aria-current="true"' in link for link in chinese)
    assert not any("aria-current" in link for link in english)
    assert 'next=/%3Fref%3Dmail"' in page
    assert 'rel="nofollow"' in page
