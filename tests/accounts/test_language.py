import pytest
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
        assert f'action="{SWITCH}"' in page, url
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
