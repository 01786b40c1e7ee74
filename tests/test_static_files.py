"""Static URLs carry the static folder's digest, so a proxy may cache them for a year."""

from __future__ import annotations

from survey.web.static_files import static_digest
from tests.pages import attribute_values


def test_every_static_link_on_a_page_carries_the_current_version(app, client):
    version = app.extensions["static_version"]
    page = client.get("/staff/login").text
    links = [url for url in attribute_values(page, "href", "src") if url.startswith("/static/")]
    assert links, "the page links static files"
    assert all(link.endswith(f"?v={version}") for link in links), links
    stylesheet = client.get(links[0])
    assert stylesheet.status_code == 200
    stylesheet.close()  # a file response: let go of the file


def test_the_version_changes_with_any_static_file(tmp_path):
    (tmp_path / "vendor").mkdir()
    (tmp_path / "site.css").write_text("body { color: black }")
    (tmp_path / "vendor" / "lib.js").write_text("var a = 1;")
    before = static_digest(tmp_path)
    assert static_digest(tmp_path) == before
    (tmp_path / "vendor" / "lib.js").write_text("var a = 2;")
    changed = static_digest(tmp_path)
    assert changed != before
    (tmp_path / "vendor" / "lib.js").rename(tmp_path / "vendor" / "lib2.js")
    assert static_digest(tmp_path) not in {before, changed}
