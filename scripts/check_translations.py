"""Fail when a translatable string of the project has no zh-hans translation.

Regenerates the catalogue from the source first (makemessages), so a string added without
running `make messages` is caught too. Lists every missing or fuzzy entry.
"""

import re
import subprocess
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = [ROOT / "locale/zh_Hans/LC_MESSAGES/django.po"]
MAKEMESSAGES = [
    sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-location", "--no-obsolete",
    "--ignore=.venv", "--ignore=var", "--ignore=tests", "--ignore=bench", "-v", "0",
]  # fmt: skip
CREATION_DATE = re.compile(rb'^"POT-Creation-Date: .*\n', re.MULTILINE)


def regenerate() -> None:
    """Run makemessages, keeping the files untouched when only the creation date changed."""
    before = {path: path.read_bytes() for path in CATALOGUES if path.exists()}
    subprocess.run(MAKEMESSAGES, cwd=ROOT, check=True)
    for path, old in before.items():
        if CREATION_DATE.sub(b"", path.read_bytes()) == CREATION_DATE.sub(b"", old):
            path.write_bytes(old)


def main() -> int:
    regenerate()
    problems, total = [], 0
    for path in CATALOGUES:
        catalogue = polib.pofile(str(path))
        total += len(catalogue)
        for entry in catalogue:
            if "fuzzy" in entry.flags:
                problems.append(f"{path.name}: fuzzy: {entry.msgid!r}")
            elif not entry.translated():
                problems.append(f"{path.name}: untranslated: {entry.msgid!r}")
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} string(s) lack a zh-hans translation: `make messages`, translate.")
        return 1
    print(f"zh-hans catalogue complete ({total} entries)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
