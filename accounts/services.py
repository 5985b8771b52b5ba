"""Writes on accounts. Views, forms and the allauth adapter call these."""

from django.conf import settings
from django.db import transaction

from .models import User


def user_set_language(*, user: User, language: str) -> User:
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"Unsupported language: {language!r}")
    User.objects.filter(pk=user.pk).update(preferred_language=language)
    user.preferred_language = language
    return user


def user_set_currency(*, user: User, currency: str) -> User:
    if currency not in settings.SIMDESK_CURRENCIES:
        raise ValueError(f"Unsupported currency: {currency!r}")
    User.objects.filter(pk=user.pk).update(preferred_currency=currency)
    user.preferred_currency = currency
    return user


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    full_name: str = "",
    language: str | None = None,
    currency: str | None = None,
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    """Create a user; a None password makes an account that can only sign in by code or reset."""
    return User.objects.create_user(
        email=email,
        password=password,
        full_name=full_name,
        preferred_language=language or settings.LANGUAGE_CODE,
        preferred_currency=currency or settings.SIMDESK_DEFAULT_CURRENCY,
        is_staff=is_staff or is_superuser,
        is_superuser=is_superuser,
    )
