from django.db import migrations

from accounts.roles import FINANCE, grant_role_permissions, revoke_role_permissions

# Finance reads the reports and exports the journal; reseller staff do not.
PERMISSIONS = ["billing.view_financial_reports"]


def grant(apps, schema_editor):
    grant_role_permissions(apps, FINANCE, PERMISSIONS)


def revoke(apps, schema_editor):
    revoke_role_permissions(apps, FINANCE, PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0012_financial_reports"),
        ("accounts", "0002_staff_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
