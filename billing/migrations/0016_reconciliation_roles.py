from django.db import migrations

from accounts.roles import FINANCE, grant_role_permissions, revoke_role_permissions

# Finance reconciles the gateway and records its payouts; reseller staff do neither.
PERMISSIONS = [
    "billing.view_reconciliationrun",
    "billing.run_reconciliation",
    "billing.view_gatewaypayout",
    "billing.record_payout",
]


def grant(apps, schema_editor):
    grant_role_permissions(apps, FINANCE, PERMISSIONS)


def revoke(apps, schema_editor):
    revoke_role_permissions(apps, FINANCE, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0015_reconciliation"),
        ("accounts", "0002_staff_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
