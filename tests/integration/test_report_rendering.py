"""report.html in a real headless browser: a laptop screen, A4 and Letter paper, nothing cut.

Chromium and pdftotext come from Debian's packages; `make test` installs them where they
are missing.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pik_recon.config import load_config
from pik_recon.report import write_report
from pik_recon.warehouse import Warehouse
from tests.integration.test_report import AS_OF, SINCE, build_sample_warehouse

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]
# What the browser measured, written into the page it rendered.
MEASURE = """<script>
const page = document.documentElement.clientWidth;
const tables = [...document.querySelectorAll('table')].map(t => ({
  cls: t.className, right: t.getBoundingClientRect().right,
  overflowing: [...t.querySelectorAll('td, th')].filter(c => c.scrollWidth > c.clientWidth + 1)
                 .map(c => c.textContent.trim())}));
const rows = [...document.querySelectorAll('table.findings tbody tr')].map(r =>
  [...r.children].map(c => c.textContent.trim()));
const out = document.createElement('pre');
out.id = 'measured';
out.textContent = JSON.stringify({page, scroll: document.documentElement.scrollWidth, tables,
  rows, headline: document.querySelector('.headline .attention').textContent});
document.body.appendChild(out);
</script>"""
PAPERS = {"A4": (297, 210), "letter": (279.4, 215.9)}  # mm, landscape
MARGIN_MM = 12


def _browser() -> str:
    found = shutil.which("chromium")
    assert found, "chromium is missing: `make test` installs it (Debian package chromium)"
    return found


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rendering")
    build_sample_warehouse(folder / "wh.duckdb")
    with Warehouse.open(folder / "wh.duckdb", read_only=True) as wh:
        write_report(wh, load_config(env={}).report, accounts=["default"],
                     since=datetime(2026, 8, 1, tzinfo=UTC), until=AS_OF, out=folder / "out",
                     formats=("html",), now=AS_OF)
    assert SINCE == "2026-08-01"
    return folder / "out" / "report.html"


def _measured(page: Path, width: int, profile: Path) -> dict:
    probe = page.with_name(f"measure-{width}.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"),
                     encoding="utf-8")
    done = subprocess.run([_browser(), *FLAGS, f"--user-data-dir={profile}",
                           f"--window-size={width},900", "--virtual-time-budget=5000",
                           "--dump-dom", probe.as_uri()], capture_output=True, text=True,
                          timeout=180)
    found = re.search(r'<pre id="measured">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


def _printable_px(paper: str) -> int:
    width_mm = PAPERS[paper][0] - 2 * MARGIN_MM
    return int(width_mm / 25.4 * 96)


@pytest.mark.parametrize("width", [1366, _printable_px("A4"), _printable_px("letter")])
def test_no_table_is_wider_than_the_window_and_no_cell_cuts_its_text(
        page: Path, tmp_path: Path, width: int) -> None:
    measured = _measured(page, width, tmp_path / "profile")
    assert measured["page"] <= width
    assert measured["scroll"] <= measured["page"]  # nothing to scroll sideways
    assert len(measured["tables"]) >= 6
    for table in measured["tables"]:
        assert table["right"] <= measured["page"], table["cls"]
        assert table["overflowing"] == [], table["cls"]


def test_the_headline_counts_are_the_findings_table_s(page: Path, tmp_path: Path) -> None:
    measured = _measured(page, 1366, tmp_path / "profile")
    rows = measured["rows"]
    assert len(rows) == 125  # the sample's findings, all shown (top_findings is 200)
    headline = re.match(r"(\d+) critical and (\d+) warning findings need attention",
                        measured["headline"])
    assert headline, measured["headline"]
    critical = sum(1 for r in rows if r[0] == "critical" and r[8] == "open")
    warning = sum(1 for r in rows if r[0] == "warning" and r[8] == "open")
    assert (int(headline.group(1)), int(headline.group(2))) == (critical, warning)
    assert critical > 0 and warning > 0


@pytest.mark.parametrize("paper", ["A4", "letter"])
def test_printed_on_paper_every_column_and_every_digit_is_on_the_page(
        page: Path, tmp_path: Path, paper: str) -> None:
    """Printed to PDF in landscape: the findings table's header on every page it spans,
    each word inside the page, and the longest amounts whole."""
    sized = tmp_path / "sized.html"
    sized.write_text(page.read_text(encoding="utf-8").replace(
        "</head>", f"<style>@page {{ size: {paper} landscape; }}</style></head>"),
        encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    subprocess.run([_browser(), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                    "--no-pdf-header-footer", f"--print-to-pdf={pdf}", sized.as_uri()],
                   capture_output=True, timeout=180, check=True)
    boxes = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                           text=True, check=True).stdout
    pages = re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', boxes, re.S)
    assert len(pages) >= 3
    width_pt = PAPERS[paper][0] / 25.4 * 72
    header = {"severity", "category", "order", "link", "amount", "difference", "days", "state",
              "description"}
    text, finding_pages = "", 0
    for page_width, _, content in pages:
        assert abs(float(page_width) - width_pt) < 2  # landscape, on the paper asked for
        words = [(float(x), round(float(y)), w) for x, y, w in re.findall(
            r'xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', content)]
        assert all(x <= float(page_width) for x, _, _ in words)  # nothing beyond the edge
        text += " ".join(w for _, _, w in words) + "\n"
        if any(w.startswith("SO-42-") for _, _, w in words):  # a page of findings
            finding_pages += 1
            lines = {y for _, y, w in words if w == "severity"}
            assert any(header <= {w for _, y, w in words if y == line} for line in lines)
    assert finding_pages >= 2  # the table runs over pages, its header on each
    words = set(text.split())
    for amount in ("1.737325144393659155", "0.504273374005825227",
                   "33,465.720000000000000000"):
        whole, fraction = amount.split(".")  # a long amount may break between six decimals
        groups = [f"{whole}.{fraction[:6]}", *(fraction[i:i + 6] for i in range(6, 18, 6))]
        assert all(any(g in w for w in words) for g in groups), amount
