"""`manage.py ledger_verify`: prove the ledger's invariants over every posting.

Exits 0 and says so when every entry balances per currency with two or more postings, every
posting is in its account's currency, every cached balance equals the sum of its account's
postings and no wallet is below zero; otherwise lists each offender and exits 1.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from billing.selectors.ledger import ledger_problems


class Command(BaseCommand):
    help = "Check every invariant of the ledger; list each offender and exit 1 if any."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = ledger_problems()
        if problems:
            for problem in problems:
                self.stderr.write(str(problem))
            raise CommandError(f"ledger_verify: {len(problems)} problem(s)", returncode=1)
        self.stdout.write(self.style.SUCCESS("ledger_verify: the ledger is consistent"))
