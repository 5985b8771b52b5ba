"""Who may do what with payments: reseller staff keep bonus tiers and take counter top-ups;
finance reads payments and events, replays a failed event and takes counter top-ups too."""

from django.db import migrations

from accounts.roles import FINANCE, RESELLER_STAFF, grant_role_permissions, revoke_role_permissions

RESELLER_STAFF_PERMISSIONS = [
    "billing.view_payment",
    "billing.record_counter_payment",
    "billing.view_bonustier",
    "billing.add_bonustier",
    "billing.change_bonustier",
    "billing.delete_bonustier",
]
FINANCE_PERMISSIONS = [
    "billing.view_payment",
    "billing.record_counter_payment",
    "billing.view_gatewayevent",
    "billing.replay_gatewayevent",
    "billing.view_bonustier",
]


def grant(apps, schema_editor):
    grant_role_permissions(apps, RESELLER_STAFF, RESELLER_STAFF_PERMISSIONS)
    grant_role_permissions(apps, FINANCE, FINANCE_PERMISSIONS)


def revoke(apps, schema_editor):
    revoke_role_permissions(apps, RESELLER_STAFF, RESELLER_STAFF_PERMISSIONS)
    revoke_role_permissions(apps, FINANCE, FINANCE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_payments"), ("accounts", "0002_staff_roles")]

    operations = [migrations.RunPython(grant, revoke)]
