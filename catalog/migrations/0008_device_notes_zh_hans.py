"""Device notes in Chinese, and the device list of catalog/data/devices.csv loaded on every
install (only the missing models: what staff edited stays)."""

from django.db import migrations, models


def load_devices(apps, schema_editor):
    from catalog.services.devices import devices_load

    devices_load(model=apps.get_model("catalog", "Device"))


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0007_usage_permissions"),
    ]

    operations = [
        migrations.AddField(
            model_name="device",
            name="notes_zh_hans",
            field=models.CharField(
                blank=True, max_length=255, verbose_name="notes (Simplified Chinese)"
            ),
        ),
        migrations.AlterField(
            model_name="device",
            name="notes",
            field=models.CharField(blank=True, max_length=255, verbose_name="notes (English)"),
        ),
        migrations.RunPython(load_devices, migrations.RunPython.noop),
    ]
