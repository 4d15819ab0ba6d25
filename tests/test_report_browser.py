"""``report.html`` in a real browser: Debian's headless Chromium, offline.

The report itself carries no script.  The test loads a *copy* with a small
measuring script injected, lets Chromium lay it out, and reads the numbers
back with ``--dump-dom``: every ``<math>`` element is a laid-out MathML
element of non-zero size, no raw MathML shows as text, the page does not
overflow a phone-width screen, and the page loaded no resource at all.  DNS is
mapped to nothing (``--host-resolver-rules``), so a stray URL could not load
anyway.  Screenshots at desktop and phone width are kept in the test's tmp dir.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from elbo_check.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium package is not installed"),
]

MEASURE = """<script>
window.addEventListener("load", () => {
  const maths = [...document.querySelectorAll("math")];
  const boxes = maths.map(m => m.getBoundingClientRect());
  const out = {
    count: maths.length,
    mathml: maths.filter(m => m instanceof MathMLElement).length,
    empty: boxes.filter(b => !(b.width > 0 && b.height > 0)).length,
    minHeight: Math.min(...boxes.map(b => b.height)),
    text: document.body.innerText,
    resources: performance.getEntriesByType("resource").map(r => r.name),
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    figures: [...document.querySelectorAll("figure svg")].map(
      s => s.getBoundingClientRect().width),
  };
  parent.postMessage(JSON.stringify(out), "*");
});
</script>"""

#: a test-only page that shows the report in a frame of the given width: Chromium's
#: window cannot be narrower than 500 px, a frame can, and its media queries follow it
FRAME = """<!DOCTYPE html><html><body style="margin:0;background:#888">
<iframe src="{src}" style="width:{width}px;height:{height}px;border:0;background:#fff"></iframe>
<script>
window.addEventListener("message", e => {{
  const pre = document.createElement("pre");
  pre.id = "measured";
  pre.textContent = e.data;
  document.body.appendChild(pre);
}});
</script></body></html>"""


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("matplotlib")  # the figures of --evidence
    out = tmp_path_factory.mktemp("report")
    code = main(
        ["report", "--out", str(out), "--format", "html", "--evidence"],
        out=io.StringIO(),
        err=io.StringIO(),
    )
    assert code == 0
    return out / "report.html"


def _frame(page: Path, width: int, height: int, tmp: Path) -> Path:
    frame = tmp / f"frame-{page.stem}-{width}.html"
    frame.write_text(FRAME.format(src=page.name, width=width, height=height), encoding="utf-8")
    return frame


def _measure(report: Path, width: int, tmp: Path) -> dict[str, object]:
    page = report.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>", 1)
    copy = tmp / f"measure-{width}.html"
    copy.write_text(page, encoding="utf-8")
    frame = _frame(copy, width, 900, tmp)
    run = _chromium(
        f"--window-size={max(width, 500) + 20},900",
        "--virtual-time-budget=10000",
        "--dump-dom",
        frame.as_uri(),
        profile=tmp / f"profile-{width}",
    )
    found = re.search(r'<pre id="measured">(.*?)</pre>', run.stdout, re.S)
    assert found, f"no measurement in the DOM; stderr: {run.stderr[-1500:]}"
    text = found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    data: dict[str, object] = json.loads(text)
    return data


@pytest.fixture(scope="module")
def measured(
    report: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[int, dict[str, object]]:
    """Layout numbers at desktop (1280 px) and phone (390 px) width, one browser run each."""
    tmp = tmp_path_factory.mktemp("measure")
    return {width: _measure(report, width, tmp) for width in (1280, 390)}


def test_report_html_contains_no_script_and_no_external_url(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page) is None
    assert "@import" not in page
    assert re.search(r"""url\(\s*["']?(?!#)""", page) is None  # only url(#local-id)


@pytest.mark.parametrize("width", [1280, 390])
def test_every_math_element_is_laid_out_with_nonzero_size(
    measured: dict[int, dict[str, object]], width: int
) -> None:
    m = measured[width]
    assert m["count"] == m["mathml"]
    assert isinstance(m["count"], int)
    assert m["count"] > 50
    assert m["empty"] == 0
    assert m["minHeight"] > 8


@pytest.mark.parametrize("width", [1280, 390])
def test_no_raw_mathml_text_is_visible(measured: dict[int, dict[str, object]], width: int) -> None:
    text = str(measured[width]["text"])
    assert "<math" not in text
    assert "<mi>" not in text
    assert "mrow" not in text


@pytest.mark.parametrize("width", [1280, 390])
def test_the_page_loads_no_resource_from_anywhere(
    measured: dict[int, dict[str, object]], width: int
) -> None:
    assert measured[width]["resources"] == []


def test_the_page_fits_a_phone_width_screen(measured: dict[int, dict[str, object]]) -> None:
    m = measured[390]
    assert m["innerWidth"] == 390
    assert m["scrollWidth"] == m["innerWidth"]
    figures = m["figures"]
    assert isinstance(figures, list)
    assert len(figures) == 3
    assert all(0 < w <= 390 for w in figures), figures


@pytest.mark.parametrize(("width", "name"), [(1280, "desktop"), (390, "phone")])
def test_screenshots_are_kept_as_artifacts(
    report: Path, width: int, name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shots = tmp_path_factory.getbasetemp() / "screenshots"
    shots.mkdir(exist_ok=True)
    page = shots / "report.html"
    shutil.copyfile(report, page)
    png = shots / f"report-{name}.png"
    run = _chromium(
        f"--window-size={max(width, 500)},3000",
        f"--screenshot={png}",
        _frame(page, width, 3000, shots).as_uri(),
        profile=shots / f"profile-{name}",
    )
    assert png.is_file(), run.stderr[-1500:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # a blank page compresses to a few kB


def test_the_page_prints_to_pdf(report: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    run = _chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", report.as_uri(),
                    profile=tmp_path / "profile")  # fmt: skip
    assert pdf.is_file(), run.stderr[-1500:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert len(data) > 50_000
