"""Who may do what with orders: reseller staff run orders and coupons; finance reads orders
and decides refunds."""

from django.db import migrations

from accounts.roles import FINANCE, RESELLER_STAFF, grant_role_permissions, revoke_role_permissions

RESELLER_STAFF_PERMISSIONS = [
    "billing.view_order",
    "billing.change_order",
    "billing.view_refund",
    "billing.view_coupon",
    "billing.add_coupon",
    "billing.change_coupon",
    "billing.delete_coupon",
    "catalog.view_cardbinding",
]
FINANCE_PERMISSIONS = [
    "billing.view_order",
    "billing.view_refund",
    "billing.add_refund",
    "billing.decide_refund",
    "billing.view_coupon",
]


def grant(apps, schema_editor):
    grant_role_permissions(apps, RESELLER_STAFF, RESELLER_STAFF_PERMISSIONS)
    grant_role_permissions(apps, FINANCE, FINANCE_PERMISSIONS)


def revoke(apps, schema_editor):
    revoke_role_permissions(apps, RESELLER_STAFF, RESELLER_STAFF_PERMISSIONS)
    revoke_role_permissions(apps, FINANCE, FINANCE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0007_orders"),
        ("catalog", "0004_addon_mode_card_binding"),
        ("accounts", "0002_staff_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
