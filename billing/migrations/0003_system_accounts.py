"""Open the system accounts of the chart for every configured currency; give Finance the ledger.

A currency configured later gets its accounts on first use (billing.services.ledger).
"""

from django.conf import settings
from django.db import migrations

from accounts.roles import FINANCE, grant_role_permissions, revoke_role_permissions
from billing.chart import SYSTEM_PURPOSES, system_account_fields

FINANCE_PERMISSIONS = [
    "billing.view_ledgeraccount",
    "billing.view_journalentry",
    "billing.view_posting",
    "billing.adjust_wallet",
]


def open_accounts(apps, schema_editor):
    account_model = apps.get_model("billing", "LedgerAccount")
    for currency in settings.SIMDESK_CURRENCIES:
        for purpose in SYSTEM_PURPOSES:
            fields = system_account_fields(purpose, currency)
            account_model.objects.get_or_create(code=fields.pop("code"), defaults=fields)


def grant(apps, schema_editor):
    grant_role_permissions(apps, FINANCE, FINANCE_PERMISSIONS)


def revoke(apps, schema_editor):
    revoke_role_permissions(apps, FINANCE, FINANCE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_ledger_sql"), ("accounts", "0002_staff_roles")]

    operations = [
        # Accounts stay on the way back: they may hold postings by then.
        migrations.RunPython(open_accounts, migrations.RunPython.noop),
        migrations.RunPython(grant, revoke),
    ]
