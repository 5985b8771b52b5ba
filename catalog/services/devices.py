"""The device compatibility list: catalog/data/devices.csv loaded into `Device` rows.

The file is the starting list (a data migration loads it on every install); staff extend and
edit it in the admin. Reloading adds the models that are missing and, only when asked to
(`update=True`), overwrites the ones staff may have edited. A file with one bad row writes
nothing.
"""

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from catalog.exceptions import CatalogError
from catalog.models import Device

DEVICES_CSV = Path(__file__).resolve().parent.parent / "data" / "devices.csv"
COLUMNS = ("brand", "model", "support", "notes", "notes_zh_hans")
REQUIRED_COLUMNS = ("brand", "model", "support")
UPDATED_FIELDS = ("support", "notes", "notes_zh_hans")


class DeviceListInvalid(CatalogError):
    """A device file with a missing column or a bad row; nothing was written."""


@dataclass(frozen=True)
class DeviceRow:
    brand: str
    model: str
    support: str
    notes: str
    notes_zh_hans: str
    line: int  # in the file, the header being line 1


@dataclass(frozen=True)
class DevicesLoaded:
    added: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.added + self.updated + self.unchanged


def devices_read(rows: Iterable[Mapping[str, Any]]) -> list[DeviceRow]:
    """Check every row (as csv.DictReader gives them); the first error names its line."""
    limits = {
        name: getattr(Device._meta.get_field(name), "max_length", 0) or 0
        for name in ("brand", "model", "notes", "notes_zh_hans")
    }
    supports = set(Device.Support.values)
    seen: dict[tuple[str, str], int] = {}
    result = []
    for line, raw in enumerate(rows, start=2):
        missing = [c for c in REQUIRED_COLUMNS if c not in raw]
        if missing:
            raise DeviceListInvalid(
                _("The device list has no %(columns)s column.") % {"columns": ", ".join(missing)}
            )
        values = {name: str(raw.get(name) or "").strip() for name in COLUMNS}
        if not values["brand"] or not values["model"]:
            raise DeviceListInvalid(
                _("Line %(line)d: the brand and the model are required.") % {"line": line}
            )
        support = values["support"].lower()
        if support not in supports:
            raise DeviceListInvalid(
                _('Line %(line)d: support must be one of %(choices)s, not "%(value)s".')
                % {"line": line, "choices": ", ".join(sorted(supports)), "value": values["support"]}
            )
        for name, limit in limits.items():
            if len(values[name]) > limit:
                raise DeviceListInvalid(
                    _("Line %(line)d: %(column)s is longer than %(limit)d characters.")
                    % {"line": line, "column": name, "limit": limit}
                )
        key = (values["brand"], values["model"])
        if key in seen:
            raise DeviceListInvalid(
                _("Line %(line)d: %(device)s is already on line %(first)d.")
                % {"line": line, "device": " ".join(key), "first": seen[key]}
            )
        seen[key] = line
        result.append(
            DeviceRow(
                brand=values["brand"],
                model=values["model"],
                support=support,
                notes=values["notes"],
                notes_zh_hans=values["notes_zh_hans"],
                line=line,
            )
        )
    return result


def devices_file_read(path: Path | str = DEVICES_CSV) -> list[DeviceRow]:
    with open(path, encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise DeviceListInvalid(
                _("The device list has no %(columns)s column.") % {"columns": ", ".join(missing)}
            )
        return devices_read(reader)


@transaction.atomic
def devices_load(
    *,
    rows: Iterable[Mapping[str, Any]] | None = None,
    path: Path | str | None = None,
    update: bool = False,
    model: Any = Device,
) -> DevicesLoaded:
    """Add the devices of `rows` (or of the file at `path`, by default the project's list)
    that are missing, by brand and model; with `update`, also overwrite the support and notes
    of the ones that differ. `model` is the historical Device model inside a migration."""
    wanted = devices_read(rows) if rows is not None else devices_file_read(path or DEVICES_CSV)
    existing = {(d.brand, d.model): d for d in model.objects.all()}
    missing = []
    changed = []
    for row in wanted:
        device = existing.get((row.brand, row.model))
        if device is None:
            missing.append(
                model(
                    brand=row.brand,
                    model=row.model,
                    support=row.support,
                    notes=row.notes,
                    notes_zh_hans=row.notes_zh_hans,
                )
            )
        elif update and any(getattr(device, f) != getattr(row, f) for f in UPDATED_FIELDS):
            for name in UPDATED_FIELDS:
                setattr(device, name, getattr(row, name))
            changed.append(device)
    model.objects.bulk_create(missing)
    model.objects.bulk_update(changed, UPDATED_FIELDS)
    return DevicesLoaded(
        added=len(missing),
        updated=len(changed),
        unchanged=len(wanted) - len(missing) - len(changed),
    )
