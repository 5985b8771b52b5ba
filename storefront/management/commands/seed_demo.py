from typing import Any

from django.core.management.base import BaseCommand

from accounts.demo import demo_accounts_seed
from billing.demo import demo_ledger_seed
from catalog.demo import DemoCatalogSummary, demo_catalog_seed


class Command(BaseCommand):
    help = "Load the demo data (idempotent) and print the demo logins."

    def handle(self, *args: Any, **options: Any) -> None:
        logins = demo_accounts_seed()
        catalog = demo_catalog_seed()
        ledger = demo_ledger_seed()
        self.stdout.write(self.style.SUCCESS("Demo data loaded. Demo logins:"))
        width = max(len(login.email) for login in logins)
        for login in logins:
            self.stdout.write(f"  {login.email:<{width}}  {login.password}  ({login.role})")
        self.stdout.write(_catalog_line(catalog))
        wallets = ", ".join(
            f"{email} {money.amount} {money.currency}" for email, money in ledger.wallets
        )
        self.stdout.write(f"Demo ledger: {ledger.entries} journal entries; wallets: {wallets}.")
        self.stdout.write("Demo coupons: WELCOME10 (10% off), TRAVEL5 (5 USD off from 20 USD).")
        if catalog.unpriced_currencies:
            self.stdout.write(
                self.style.WARNING(
                    "No demo prices in "
                    + ", ".join(catalog.unpriced_currencies)
                    + ": catalog/demo.py has no rate for them."
                )
            )


def _catalog_line(c: DemoCatalogSummary) -> str:
    return (
        f"Demo catalog: {c.countries} countries and {c.regions} regions, {c.plans} plans "
        f"priced in {', '.join(c.currencies)}, {c.profiles:,} eSIM profiles, "
        f"{c.devices} devices; {len(c.low_stock_plans)} plans low on stock "
        f"({c.created:,} rows added)."
    )
