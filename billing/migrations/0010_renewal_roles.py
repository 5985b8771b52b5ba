"""Reseller staff and finance read auto-renewals, renewal periods and reminders (answering
customers); nobody edits them in the admin."""

from django.db import migrations

from accounts.roles import FINANCE, RESELLER_STAFF, grant_role_permissions, revoke_role_permissions

PERMISSIONS = ["billing.view_autorenewal", "billing.view_renewal", "billing.view_reminder"]


def grant(apps, schema_editor):
    for role in (RESELLER_STAFF, FINANCE):
        grant_role_permissions(apps, role, PERMISSIONS)


def revoke(apps, schema_editor):
    for role in (RESELLER_STAFF, FINANCE):
        revoke_role_permissions(apps, role, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0009_renewals"),
        ("accounts", "0002_staff_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
