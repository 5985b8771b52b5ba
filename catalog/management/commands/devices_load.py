from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.exceptions import CatalogError
from catalog.services.devices import DEVICES_CSV, devices_load


class Command(BaseCommand):
    help = (
        "Load the device compatibility list (catalog/data/devices.csv by default): adds the "
        "missing models; --update also overwrites the support and notes staff may have edited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", default=str(DEVICES_CSV))
        parser.add_argument(
            "--update",
            action="store_true",
            help="Overwrite the support and notes of devices already in the list.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            loaded = devices_load(path=options["path"], update=options["update"])
        except (CatalogError, OSError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Devices: {loaded.added} added, {loaded.updated} updated, "
                f"{loaded.unchanged} unchanged."
            )
        )
