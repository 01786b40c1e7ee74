"""The Word and Excel exports opened by an office suite: LibreOffice (headless, from Debian's
packages, installed by `.ci/run`) converts each to PDF. The infoblad section must fit on one A4
page; a picture of that page is saved with the screenshots (tests/artifacts/screenshots/)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.browser import SCREENSHOTS
from tests.conftest import service_missing
from tests.staff_helpers import get, signed_in_client
from tests.test_quote_exports import published_region  # noqa: F401 (a fixture)

A4_POINTS = (595, 842)  # 210 × 297 mm


def soffice() -> str:
    found = shutil.which("soffice")
    if found is None or shutil.which("pdfinfo") is None:
        service_missing(
            "LibreOffice or poppler is not installed (apt-get install libreoffice-writer-nogui "
            "libreoffice-calc-nogui poppler-utils)"
        )
    return str(found)


def to_pdf(*documents: Path) -> list[Path]:
    """`documents` converted by LibreOffice to PDFs beside them, in one run of it (the office
    suite starts once: most of the time of a conversion); fails if one cannot be converted."""
    folder = documents[0].parent
    profile = folder / "lo-profile"  # its own profile: no lock shared with other runs
    completed = subprocess.run(
        [
            soffice(),
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder),
            *map(str, documents),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    pdfs = [document.with_suffix(".pdf") for document in documents]
    missing = [pdf.name for pdf in pdfs if not pdf.exists()]
    assert completed.returncode == 0 and not missing, completed.stderr + completed.stdout
    return pdfs


def pdf_pages(pdf: Path) -> tuple[int, tuple[int, int]]:
    """Number of pages and the size of the first one in whole points."""
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    size = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info, re.M)
    return pages, (round(float(size.group(1))), round(float(size.group(2))))


@pytest.fixture
def office_folder(tmp_path: Path) -> Path:
    soffice()
    return tmp_path


# The documents are the same whatever the database: one backend is enough here (their content is
# read on both in tests/test_word_exports.py and tests/test_spreadsheet_exports.py).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_word_and_excel_export_converts_on_a4(app, db, published_region, office_folder):  # noqa: F811
    client, _ = signed_in_client(app, db, "admin")
    downloads = {
        "infoblad.docx": "/staff/quotes/infoblad.docx",
        "quotes.docx": "/staff/quotes/export.docx",
        "breakdown.xlsx": "/staff/dashboard/export.xlsx?table=breakdown&by=team&by2=group",
    }
    documents = []
    for name, path in downloads.items():
        documents.append(office_folder / name)
        documents[-1].write_bytes(get(client, path).get_data())
    infoblad, quotes, workbook = to_pdf(*documents)

    assert pdf_pages(infoblad) == (1, A4_POINTS)  # the infoblad section fits on one A4 page
    assert pdf_pages(quotes)[1] == A4_POINTS
    pages, size = pdf_pages(workbook)
    assert pages >= 1 and size == A4_POINTS[::-1]  # A4 landscape, fitted to the width

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    picture = SCREENSHOTS / "infoblad-docx"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-singlefile", str(infoblad), str(picture)], check=True
    )
    assert picture.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
