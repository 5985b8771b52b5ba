import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from accounts.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def test_login_with_email_and_password(client):
    user = UserFactory(email="traveller@example.com")

    response = client.post(LOGIN, {"login": "Traveller@Example.com", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("storefront:home")
    assert client.session["_auth_user_id"] == str(user.pk)


def test_wrong_password_does_not_sign_in(client):
    UserFactory(email="traveller@example.com")

    response = client.post(LOGIN, {"login": "traveller@example.com", "password": "nope"})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_email_is_unique_whatever_the_case():
    User.objects.create_user(email="Same@Example.com", password=PASSWORD)
    assert User.objects.get().email == "same@example.com"
    with pytest.raises(Exception, match=r"unique|duplicate"):
        User.objects.create_user(email="SAME@example.com", password=PASSWORD)


def test_unverified_address_cannot_sign_in_and_gets_a_new_link(client):
    UserFactory(email="new@example.com", verified=False)

    response = client.post(LOGIN, {"login": "new@example.com", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.com"]


def test_failed_logins_are_answered_429_after_the_limit(client):
    UserFactory(email="target@example.com")
    statuses = [
        client.post(LOGIN, {"login": "target@example.com", "password": f"guess{i}"}).status_code
        for i in range(6)
    ]
    assert statuses == [200] * 5 + [429]
    # The right password is refused too while the key is locked out.
    response = client.post(LOGIN, {"login": "target@example.com", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_signup_sends_verification_and_the_link_signs_in(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "fresh@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    assert EmailAddress.objects.get(email="fresh@example.com").verified is False

    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)
    response = client.get(link)

    assert response.status_code == 302
    assert EmailAddress.objects.get(email="fresh@example.com").verified is True
    assert client.session["_auth_user_id"] == str(User.objects.get(email="fresh@example.com").pk)


def test_signup_remembers_the_language_in_use(client):
    client.post(reverse("accounts:language-set"), {"language": "zh-hans", "next": "/"})
    client.post(
        "/accounts/signup/",
        {"email": "zhang@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert User.objects.get(email="zhang@example.com").preferred_language == "zh-hans"
    assert "确认" in mail.outbox[0].subject + mail.outbox[0].body


def test_login_by_emailed_code(client):
    user = UserFactory(email="coder@example.com")

    response = client.post("/accounts/login/code/", {"email": "coder@example.com"})
    assert response.status_code == 302
    code = re.search(
        r"^\s*([A-Z0-9][A-Z0-9-]{4,}[A-Z0-9])\s*$", mail.outbox[0].body, re.MULTILINE
    ).group(1)

    response = client.post("/accounts/login/code/confirm/", {"code": code})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_password_reset_by_email(client):
    UserFactory(email="forgetful@example.com")

    client.post("/accounts/password/reset/", {"email": "forgetful@example.com"})
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+/", mail.outbox[0].body)
    response = client.get(link.group(0), follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(
        form_url, {"password1": "a brand new secret 42", "password2": "a brand new secret 42"}
    )

    assert response.status_code == 302
    assert client.login(email="forgetful@example.com", password="a brand new secret 42")


def test_logout(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
