"""Demo accounts for `make run`. Idempotent: running it again leaves the same state."""

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.db import transaction

from .models import User
from .roles import FINANCE, RESELLER_STAFF

DEMO_PASSWORD = "simdesk-demo"  # noqa: S105 (printed for the demo on purpose)


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    password: str
    language: str = "en"
    currency: str = "USD"
    group: str | None = None
    is_staff: bool = False
    is_superuser: bool = False


DEMO_LOGINS = (
    DemoLogin("customer", "alice@simdesk.test", DEMO_PASSWORD),
    DemoLogin(
        "customer (中文)",
        "wang.fang@simdesk.test",
        DEMO_PASSWORD,
        language="zh-hans",
        currency="CNY",
    ),
    DemoLogin(
        "reseller staff",
        "reseller@simdesk.test",
        DEMO_PASSWORD,
        group=RESELLER_STAFF,
        is_staff=True,
    ),
    DemoLogin("finance", "finance@simdesk.test", DEMO_PASSWORD, group=FINANCE, is_staff=True),
    DemoLogin("admin", "admin@simdesk.test", DEMO_PASSWORD, is_staff=True, is_superuser=True),
)


@transaction.atomic
def demo_accounts_seed() -> tuple[DemoLogin, ...]:
    for login in DEMO_LOGINS:
        user, _ = User.objects.update_or_create(
            email=login.email,
            defaults={
                "preferred_language": login.language,
                "preferred_currency": login.currency,
                "is_staff": login.is_staff,
                "is_superuser": login.is_superuser,
                "is_active": True,
            },
        )
        user.set_password(login.password)
        user.save(update_fields=["password"])
        # Demo addresses count as verified, so the demo users can sign in and buy at once.
        EmailAddress.objects.update_or_create(
            user=user, email=login.email, defaults={"verified": True, "primary": True}
        )
        if login.group:
            user.groups.set([Group.objects.get(name=login.group)])
    return DEMO_LOGINS
