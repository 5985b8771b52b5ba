"""The device list: catalog/data/devices.csv loaded on install and by `devices_load`, staff
edits kept unless --update, a bad file refused whole; and the checker's search."""

import csv
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from catalog.models import Device
from catalog.selectors.devices import device_brands, device_search
from catalog.services.devices import DEVICES_CSV, DeviceListInvalid, devices_load

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _device_list():
    # The migration loads the file; a transactional test elsewhere may have flushed the table.
    devices_load()


def _file_rows() -> list[dict[str, str]]:
    with open(DEVICES_CSV, encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def _row(brand="Testphone", model="T 1", support="yes", notes="", notes_zh_hans=""):
    return {
        "brand": brand,
        "model": model,
        "support": support,
        "notes": notes,
        "notes_zh_hans": notes_zh_hans,
    }


def test_the_file_keeps_every_old_row_and_the_current_models():
    rows = _file_rows()
    keys = {(r["brand"], r["model"]) for r in rows}
    assert len(keys) == len(rows) >= 140
    assert {r["support"] for r in rows} == {"yes", "no", "varies"}
    for model in ("iPhone 12", "iPhone 15 Pro Max", "iPhone 16 Plus", "iPhone 16e", "iPhone 8"):
        assert ("Apple", model) in keys, model
    for brand, model in [
        ("Google", "Pixel 3"),
        ("Google", "Pixel 9"),
        ("Samsung", "Galaxy S25 Ultra"),
        ("Samsung", "Galaxy Z Fold5"),
        ("Samsung", "Galaxy Z Flip6"),
        ("Huawei", "P40"),
        ("Huawei", "Mate 40 Pro"),
        ("Xiaomi", "13"),
        ("OPPO", "Find X3 Pro"),
        ("Motorola", "razr (2019)"),
    ]:
        assert (brand, model) in keys, model
    # Every note has its Chinese version.
    assert all(bool(r["notes"]) == bool(r["notes_zh_hans"]) for r in rows)


def test_a_reload_adds_only_what_is_missing():
    rows = _file_rows()
    Device.objects.filter(brand="Apple", model="iPhone 8").delete()
    loaded = devices_load()
    assert (loaded.added, loaded.updated, loaded.unchanged) == (1, 0, len(rows) - 1)
    assert Device.objects.count() == len(rows)
    iphone_13 = Device.objects.get(brand="Apple", model="iPhone 13")
    assert iphone_13.support == Device.Support.VARIES
    assert "mainland China" in iphone_13.notes and "中国大陆" in iphone_13.notes_zh_hans
    assert Device.objects.get(brand="Apple", model="iPhone XS").support == Device.Support.YES
    assert Device.objects.get(brand="Apple", model="iPhone 8").support == Device.Support.NO


def test_a_reload_keeps_staff_edits_unless_update():
    Device.objects.filter(brand="Apple", model="iPhone 13").update(
        support=Device.Support.YES, notes="Staff checked"
    )
    Device.objects.create(brand="Fairphone", model="5", support=Device.Support.YES)

    out = StringIO()
    call_command("devices_load", stdout=out)
    assert "0 added, 0 updated" in out.getvalue()
    edited = Device.objects.get(brand="Apple", model="iPhone 13")
    assert (edited.support, edited.notes) == ("yes", "Staff checked")

    out = StringIO()
    call_command("devices_load", "--update", stdout=out)
    assert "0 added, 1 updated" in out.getvalue()
    edited.refresh_from_db()
    assert edited.support == Device.Support.VARIES
    assert "mainland China" in edited.notes
    # A model staff added and the file does not know stays.
    assert Device.objects.filter(brand="Fairphone", model="5").exists()


def test_a_bad_row_names_its_line_and_nothing_is_written():
    before = Device.objects.count()
    rows = [_row(model="T 1"), _row(model="T 2", support="maybe"), _row(model="T 3")]
    with pytest.raises(DeviceListInvalid, match=r'Line 3: support must be one of .*"maybe"'):
        devices_load(rows=rows)
    assert Device.objects.count() == before
    assert not Device.objects.filter(brand="Testphone").exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([_row(), _row()], "Line 3: Testphone T 1 is already on line 2."),
        ([_row(brand="")], "Line 2: the brand and the model are required."),
        ([_row(model="x" * 121)], "Line 2: model is longer than 120 characters."),
    ],
)
def test_other_bad_rows(rows, message):
    with pytest.raises(DeviceListInvalid) as error:
        devices_load(rows=rows)
    assert str(error.value) == message
    assert not Device.objects.filter(brand="Testphone").exists()


def test_the_command_reports_a_bad_file(tmp_path):
    path = tmp_path / "devices.csv"
    path.write_text("brand,model,support\nTestphone,T 1,yes\nTestphone,T 2,perhaps\n")
    with pytest.raises(CommandError, match="Line 3"):
        call_command("devices_load", str(path))
    assert not Device.objects.filter(brand="Testphone").exists()

    path.write_text("brand,model\nTestphone,T 1\n")
    with pytest.raises(CommandError, match="no support column"):
        call_command("devices_load", str(path))

    path.write_text("brand,model,support,notes\nTestphone,T 1,YES,Demo\n")
    call_command("devices_load", str(path), stdout=StringIO())
    assert Device.objects.get(brand="Testphone").support == "yes"


def _names(query, limit=20):
    return [f"{d.brand} {d.model}" for d in device_search(query, limit)]


def test_search_needs_every_word_in_any_case_and_ranks_the_exact_model_first():
    names = _names("iphone 15")
    assert names[0] == "Apple iPhone 15"
    assert set(names) == {
        "Apple iPhone 15",
        "Apple iPhone 15 Plus",
        "Apple iPhone 15 Pro",
        "Apple iPhone 15 Pro Max",
    }
    assert _names("Pixel 8")[0] == "Google Pixel 8"
    assert _names("galaxy s23")[0] == "Samsung Galaxy S23"
    assert "Samsung Galaxy S23 Ultra" in _names("galaxy s23")
    assert _names("samsung s23 ultra") == ["Samsung Galaxy S23 Ultra"]
    assert _names("GOOGLE PIXEL 9 PRO XL") == ["Google Pixel 9 Pro XL"]
    assert _names("Xiaomi 14")[0] == "Xiaomi 14"
    assert _names("nokia 3310") == []
    assert _names("   ") == []
    assert len(_names("galaxy", limit=5)) == 5


def test_search_by_chinese_brand_name():
    names = _names("三星 s24")
    assert names[0] == "Samsung Galaxy S24"
    assert all(name.startswith("Samsung") for name in names)
    assert _names("华为 P40")[0] == "Huawei P40"


def test_notes_in_the_active_language():
    device = Device.objects.get(brand="Apple", model="iPhone 13")
    with translation.override("zh-hans"):
        assert device.display_notes == device.notes_zh_hans
        assert "中国大陆" in device.display_notes
    with translation.override("en"):
        assert device.display_notes == device.notes
    device.notes_zh_hans = ""
    with translation.override("zh-hans"):
        assert device.display_notes == device.notes  # no Chinese: the English notes


def test_search_and_brands_take_one_query_each():
    with CaptureQueriesContext(connection) as queries:
        device_search("galaxy", 20)
        brands = device_brands()
    assert len(queries) == 2
    assert ("Apple", Device.objects.filter(brand="Apple").count()) in brands
