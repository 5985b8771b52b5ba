from typing import Any

from django.core.management.base import BaseCommand

from accounts.demo import demo_accounts_seed


class Command(BaseCommand):
    help = "Load the demo data (idempotent) and print the demo logins."

    def handle(self, *args: Any, **options: Any) -> None:
        logins = demo_accounts_seed()
        self.stdout.write(self.style.SUCCESS("Demo data loaded. Demo logins:"))
        width = max(len(login.email) for login in logins)
        for login in logins:
            self.stdout.write(f"  {login.email:<{width}}  {login.password}  ({login.role})")
