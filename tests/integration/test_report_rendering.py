"""report.html in a real headless browser: a laptop screen, A4 and Letter paper, nothing cut.

Chromium and pdftotext come from Debian's packages; `make test` installs them where they
are missing.
"""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pik_recon.config import load_config
from pik_recon.report import write_report
from pik_recon.warehouse import Warehouse
from tests.conftest import warehouse_rows
from tests.integration.test_report import AS_OF, SINCE, build_sample_warehouse
from tests.integration.test_stakes import WEBHOOK, planted_findings

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
// where each amount's line changes: the text before the change (a soft hyphen must end it)
const cuts = [...document.querySelectorAll('.n')].map(span => {
  const walker = document.createTreeWalker(span, NodeFilter.SHOW_TEXT), found = [];
  let top = null, before = '';
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i); range.setEnd(node, i + 1);
      const rect = [...range.getClientRects()].filter(r => r.width > 0).pop();
      if (rect && node.data[i] !== '\u00ad') {
        if (top !== null && rect.top > top + 1) found.push(before);
        top = rect.top;
      }
      before += node.data[i];
    }
  }
  return found;
}).flat();
const amount = document.querySelector('.n');
const out = document.createElement('pre');
out.id = 'measured';
out.textContent = JSON.stringify({page, scroll: document.documentElement.scrollWidth, tables,
  rows, headline: document.querySelector('.headline .attention').textContent, cuts,
  mark: getComputedStyle(amount).hyphenateCharacter});
document.body.appendChild(out);
</script>"""
PAPERS = {"A4": (297, 210), "letter": (279.4, 215.9)}  # mm, landscape
MARGIN_MM = 12
BREAK_MARK = "\u21a9"  # ↩: where a long amount continues on the next line
# the findings table's columns: severity and category share the first
CATEGORY, FINDING_ID, STATE = 0, 1, 9


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
                     formats=("html", "json", "csv"), now=AS_OF)
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
    # all shown (top_findings is 200); capture is off for this account
    assert len(rows) == len(planted_findings(leave_out=WEBHOOK))
    headline = re.match(r"(\d+) critical and (\d+) warning findings need attention",
                        measured["headline"])
    assert headline, measured["headline"]
    critical = sum(1 for r in rows if r[CATEGORY].startswith("critical") and r[STATE] == "open")
    warning = sum(1 for r in rows if r[CATEGORY].startswith("warning") and r[STATE] == "open")
    assert (int(headline.group(1)), int(headline.group(2))) == (critical, warning)
    assert critical > 0 and warning > 0


def test_every_finding_shows_its_id_to_acknowledge_it_by(page: Path, tmp_path: Path) -> None:
    """Each row shows its finding's id (findings.csv's finding_id, what `pik-recon findings
    ack` takes), in the same order as findings.csv."""
    with (page.parent / "findings.csv").open(encoding="utf-8", newline="") as fh:
        listed = [(r["finding_id"], r["order_id"]) for r in csv.DictReader(fh)]
    rows = _measured(page, 1366, tmp_path / "profile")["rows"]
    assert len(listed) == len(planted_findings(leave_out=WEBHOOK))
    assert [(r[FINDING_ID], r[2]) for r in rows] == listed
    assert all(re.fullmatch(r"[0-9a-f]{12}", r[FINDING_ID]) for r in rows)


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
    header = {"category", "id", "order", "link", "amount", "difference", "stake", "days",
              "state", "description"}
    text, finding_pages = "", 0
    for page_width, _, content in pages:
        assert abs(float(page_width) - width_pt) < 2  # landscape, on the paper asked for
        words = [(float(x), round(float(y)), w) for x, y, w in re.findall(
            r'xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', content)]
        assert all(x <= float(page_width) for x, _, _ in words)  # nothing beyond the edge
        text += " ".join(w for _, _, w in words) + "\n"
        if any(w.startswith("SO-42-") for _, _, w in words):  # a page of findings
            finding_pages += 1
            lines = {y for _, y, w in words if w == "description"}
            assert any(header <= {w for _, y, w in words if y == line} for line in lines)
    assert finding_pages >= 2  # the table runs over pages, its header on each
    _assert_every_digit_is_there_and_marked_where_it_breaks(text, page.parent)


@pytest.mark.parametrize("width", [1366, _printable_px("A4"), _printable_px("letter")])
def test_a_long_amount_breaks_only_where_the_page_shows_the_mark(
        page: Path, tmp_path: Path, width: int) -> None:
    """In a narrow column an amount goes on over lines only at its soft hyphens, where the
    stylesheet's hyphenate-character (↩) ends the line: never a cut with nothing visible
    that would make `6,952,579.922643` and `175806` read as two numbers."""
    measured = _measured(page, width, tmp_path / "profile")
    assert [c for c in measured["cuts"] if not c.endswith("\xad")] == []
    assert measured["mark"] == f'"{BREAK_MARK}"'
    if width < 1366:
        assert len(measured["cuts"]) > 10  # the narrow layouts do break some


def _fragments(amount: str) -> list[str]:
    """An amount as the page may break it: after its point, then every six decimals."""
    whole, _, fraction = amount.partition(".")
    return [f"{whole}.", *(fraction[i:i + 6] for i in range(0, len(fraction), 6))]


def _amounts(folder: Path, shortest: int = 1) -> set[str]:
    """The report's amounts of `shortest` characters or more, grouped as the page shows
    them."""
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    values = [row[name]["amount"] for row in report["summary"] for name in row
              if isinstance(row[name], dict) and "amount" in row[name]]
    values += [g["amount"] for g in report["attention"]["by_category"] if g["amount"]]
    with (folder / "findings.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    values += [r[c] for r in rows for c in ("order_amount", "link_amount", "difference",
                                            "at_stake", "received_amount") if r[c]]
    # the payments of the findings, each on a row of its own
    named = {t for r in rows for t in r["transaction_ids"].split(";") if t}
    values += [text for txn, text in warehouse_rows(folder.parent / "wh.duckdb",
                                                    "SELECT id, amount_text FROM transactions")
               if txn in named]
    return {g for g in (format(Decimal(v), ",f") for v in values) if len(g) >= shortest}


def _assert_every_digit_is_there_and_marked_where_it_breaks(text: str, folder: Path) -> None:
    """Every piece of every long amount is in the PDF's words, and a line that ends inside
    an amount ends with the mark, at one of its break points."""
    words = text.replace("\xad", "").split()  # an unused break point stays invisible
    amounts = _amounts(folder, 16)
    assert len(amounts) >= 20
    for amount in amounts:
        assert all(any(piece in w for w in words) for piece in _fragments(amount)), amount
    marked = [w[:-1] for w in words if w.endswith(BREAK_MARK)]
    assert marked  # printed on paper, some amounts did go on over two lines
    runs = {"".join(pieces[i:j]) for pieces in map(_fragments, _amounts(folder))
            for i in range(len(pieces)) for j in range(i + 1, len(pieces))}
    assert [w for w in marked if w not in runs] == []
