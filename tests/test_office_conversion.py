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


def to_pdf(document: Path) -> Path:
    """`document` converted by LibreOffice to a PDF beside it (fails if it cannot)."""
    profile = document.parent / "lo-profile"  # its own profile: no lock shared with other runs
    completed = subprocess.run(
        [
            soffice(),
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(document.parent),
            str(document),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    pdf = document.with_suffix(".pdf")
    assert completed.returncode == 0 and pdf.exists(), completed.stderr + completed.stdout
    return pdf


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


def test_the_infoblad_section_converts_to_one_a4_page(app, db, published_region, office_folder):  # noqa: F811
    client, _ = signed_in_client(app, db, "communications")
    document = office_folder / "infoblad.docx"
    document.write_bytes(get(client, "/staff/quotes/infoblad.docx").get_data())
    pdf = to_pdf(document)
    assert pdf_pages(pdf) == (1, A4_POINTS)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    picture = SCREENSHOTS / "infoblad-docx"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-singlefile", str(pdf), str(picture)], check=True
    )
    assert picture.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("path", ["/staff/quotes/export.docx", "/staff/dashboard/export.xlsx"])
def test_the_quotes_and_the_workbook_convert_on_a4(app, db, published_region, office_folder, path):  # noqa: F811
    client, _ = signed_in_client(app, db, "admin")
    document = office_folder / f"export{Path(path).suffix}"
    document.write_bytes(get(client, f"{path}?table=breakdown&by=team&by2=group").get_data())
    pages, size = pdf_pages(to_pdf(document))
    assert pages >= 1
    # Word documents are A4 upright; the workbook prints A4 landscape, fitted to the width.
    assert size == (A4_POINTS if path.endswith("docx") else A4_POINTS[::-1])
