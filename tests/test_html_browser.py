"""The HTML matrix as a person sees it: rendered by headless Chromium, read back as DOM and pixels.

Chromium comes from the system (``/usr/bin/chromium`` on Debian, installed by
``.ci/run``; GitHub's Ubuntu images ship it too) or from ``DTYPEGATE_CHROMIUM``;
without one the browser test is skipped and says so.  The screenshot is kept in
``$DTYPEGATE_ARTIFACTS`` (default ``<rootdir>/.artifacts/``).
"""

from __future__ import annotations

import html
import json
import os
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from reportdata import a100_report, v100_report, write

from pytest_dtypegate.ci.reading import load_matrix
from pytest_dtypegate.ci.render.html import render_html
from pytest_dtypegate.ci.render.legend import COLOURS

WINDOW = (1600, 1400)
TIMEOUT_S = 180  # a guard against a wedged browser, not a speed check
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


# -- a tiny PNG reader (stdlib only) ------------------------------------------------------
class Image:
    def __init__(self, width: int, height: int, channels: int, rows: list[bytes]) -> None:
        self.width, self.height, self.channels, self.rows = width, height, channels, rows

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        row, at = self.rows[y], x * self.channels
        return row[at], row[at + 1], row[at + 2]

    def region(self, left: int, top: int, right: int, bottom: int) -> Counter[tuple[int, int, int]]:
        return Counter(
            self.pixel(x, y)
            for y in range(max(top, 0), min(bottom, self.height))
            for x in range(max(left, 0), min(right, self.width))
        )


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data: bytes) -> Image:
    """8-bit RGB or RGBA, non-interlaced: what Chromium's --screenshot writes."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("PNG without IHDR")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(a, b, c)) & 0xFF
            elif kind != 0:
                raise ValueError(f"bad PNG filter type {kind} in row {y}")
        rows.append(bytes(line))
        previous = line
    return Image(width, height, bpp, rows)


def _encode_png(width: int, rows: list[tuple[int, bytes]]) -> bytes:
    """A PNG from pre-filtered rows (filter type, bytes), for testing the reader."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(bytes([kind]) + line for kind, line in rows)
    ihdr = struct.pack(">IIBBBBB", width, len(rows), 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_png_reader_undoes_every_filter() -> None:
    # 2x5 RGB image; the same pixels (10,20,30) (40,50,60) in every row, each row stored with another filter
    a, b = (10, 20, 30), (40, 50, 60)
    plain = bytes(a + b)
    sub = bytes(a + tuple(y - x for x, y in zip(a, b)))
    up = bytes(6)
    avg = bytes(v - (left + up_) // 2 for v, left, up_ in zip(a + b, (0, 0, 0, *a), a + b))
    paeth = bytes(
        (v - _paeth(left, up_, ul)) & 0xFF for v, left, up_, ul in zip(a + b, (0, 0, 0, *a), a + b, (0, 0, 0, *a))
    )
    image = decode_png(_encode_png(2, [(0, plain), (1, sub), (2, up), (3, avg), (4, paeth)]))
    assert (image.width, image.height) == (2, 5)
    assert [image.pixel(x, y) for y in range(5) for x in range(2)] == [a, b] * 5
    with pytest.raises(ValueError, match="not a PNG file"):
        decode_png(b"GIF89a")


# -- the browser test ---------------------------------------------------------------------
def _chromium() -> str | None:
    named = os.environ.get("DTYPEGATE_CHROMIUM")
    if named:
        return named
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


PROBE = """<script>
(function () {
  var cells = [];
  document.querySelectorAll("td.cell").forEach(function (td) {
    var r = td.getBoundingClientRect();
    cells.push({test: td.dataset.test, leg: td.dataset.leg, precision: td.dataset.precision,
                cls: td.className, text: td.innerText, left: r.left, top: r.top, right: r.right,
                bottom: r.bottom, background: getComputedStyle(td).backgroundColor});
  });
  document.documentElement.setAttribute("data-probe", JSON.stringify(cells));
})();
</script>
"""


def _browser(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--force-color-profile=srgb",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        *args,
    ]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{binary} did not finish within {TIMEOUT_S}s: {' '.join(command)}", pytrace=False)


class _Cells(HTMLParser):
    """Text of every ``td.cell`` of the rendered DOM, keyed by (test, leg, precision)."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str, str], str] = {}
        self.legend: list[str] = []
        self._at: tuple[str, str, str] | None = None
        self._in_legend = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "td" and "cell" in (a.get("class") or "").split():
            self._at = (a.get("data-test") or "", a.get("data-leg") or "", a.get("data-precision") or "")
            self.cells[self._at] = ""
        if tag == "ul" and a.get("class") == "legend":
            self._in_legend = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._at = None
        if tag == "ul":
            self._in_legend = False

    def handle_data(self, data: str) -> None:
        if self._at is not None:
            self.cells[self._at] += data
        elif self._in_legend and data.strip():
            self.legend.append(data.strip())


def _hex(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _close(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    return all(abs(x - y) <= 3 for x, y in zip(a, b))


def _artifacts(config: pytest.Config) -> Path:
    target = Path(os.environ.get("DTYPEGATE_ARTIFACTS") or config.rootpath / ".artifacts")
    target.mkdir(parents=True, exist_ok=True)
    return target


def test_html_matrix_in_a_browser(
    tmp_path: Path, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str], record_property: Any
) -> None:
    binary = _chromium()
    if binary is None:
        pytest.skip(
            "no Chromium: install Debian's chromium (/usr/bin/chromium; .ci/run does) "
            "or set DTYPEGATE_CHROMIUM to a Chromium/Chrome binary"
        )
    reports = [write(tmp_path, "v100.json", v100_report()), write(tmp_path, "a100.json", a100_report())]
    page = render_html(load_matrix(reports))
    probe_page = tmp_path / "matrix.html"
    probe_page.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    url = probe_page.as_uri()

    dom = _browser(binary, tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = _Cells()
    found.feed(dom.stdout)
    generate, attention, forward = (
        f"tests/test_model.py::{name}" for name in ("test_generate", "test_attention", "test_forward")
    )
    # what a person reads in each cell
    assert found.cells[(generate, "v100", "bf16")] == "skipped (emulated)"
    assert found.cells[(generate, "v100", "fp16")] == "passed"
    assert found.cells[(attention, "v100", "bf16")] == "failed (unsupported, emulated)"
    assert found.cells[(forward, "v100", "bf16")] == "passed (downgraded to fp16)"
    assert found.cells[(forward, "a100", "fp16")] == "\u2014"
    assert found.cells[(attention, "a100", "bf16")] == "passed"
    assert len(found.cells) == 18
    assert found.legend[0] == "passed" and found.legend[-1] == "\u2014 not run on that leg"
    assert "Tesla V100-SXM2-16GB (sm_70), simulated profile v100" in dom.stdout
    probe_attr = dom.stdout.split('data-probe="', 1)[1].split('"', 1)[0]
    boxes = {(c["test"], c["leg"], c["precision"]): c for c in json.loads(html.unescape(probe_attr))}

    shot = tmp_path / "matrix.png"
    run = _browser(binary, tmp_path / "profile-shot", f"--screenshot={shot}", url)
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    kept = _artifacts(request.config) / "dtypegate-matrix.png"
    shutil.copyfile(shot, kept)
    shutil.copyfile(probe_page, kept.with_suffix(".html"))
    record_property("screenshot", str(kept))
    with capsys.disabled():
        print(f"\nHTML matrix screenshot: {kept}")

    image = decode_png(shot.read_bytes())
    assert (image.width, image.height) == WINDOW

    def background(key: tuple[str, str, str]) -> tuple[int, int, int]:
        box = boxes[key]
        assert box["bottom"] < image.height and box["right"] < image.width, f"{key} is off screen: {box}"
        # the cell's most common colour is its background (text covers a small part)
        region = image.region(int(box["left"]) + 3, int(box["top"]) + 3, int(box["right"]) - 3, int(box["bottom"]) - 3)
        colour, count = region.most_common(1)[0]
        assert count > 0.5 * sum(region.values()), f"{key}: no dominant colour"
        return colour

    passed = background((generate, "v100", "fp16"))
    failed = background((attention, "v100", "bf16"))
    amber = background((generate, "v100", "bf16"))
    yellow = background((forward, "v100", "bf16"))
    empty = background((forward, "a100", "fp16"))
    assert _close(passed, _hex(COLOURS["passed"])), passed
    assert _close(failed, _hex(COLOURS["failed"])), failed
    assert _close(amber, _hex(COLOURS["skipped-hw"])), amber
    assert _close(yellow, _hex(COLOURS["downgraded"])), yellow
    assert _close(empty, (255, 255, 255)), empty
    # and they look like what they mean, whatever the palette
    r, g, b = passed
    assert g > r + 40 and g > b + 40, f"passed cell is not green: {passed}"
    r, g, b = failed
    assert r > g + 60 and r > b + 60, f"failed cell is not red: {failed}"
    r, g, b = yellow
    assert r > 200 and g > 200 and b < 160, f"downgraded cell is not yellow: {yellow}"
    r, g, b = amber
    assert r > 200 and 120 < g < 220 and b < 140, f"hardware skip is not amber: {amber}"
    # every passed cell of the A100 leg is green on screen
    for key, box in boxes.items():
        if key[1] == "a100" and box["text"] == "passed":
            assert _close(background(key), passed), key


FILTER_PROBE = """<script>
window.addEventListener("load", function () {
  function rows() {
    return Array.prototype.map.call(document.querySelectorAll("#matrix tbody tr"), function (tr) {
      return tr.className === "file" ? "FILE " + tr.textContent : tr.querySelector("th").getAttribute("title");
    });
  }
  var seen = {initial: rows(), header: document.querySelectorAll("#matrix thead th.leg").length};
  var outcome = document.getElementById("outcome");
  outcome.value = "failed"; outcome.dispatchEvent(new Event("change"));
  seen.failed = rows();
  outcome.value = ""; outcome.dispatchEvent(new Event("change"));
  var leg = document.getElementById("leg");
  leg.value = "1"; leg.dispatchEvent(new Event("change"));
  seen.legHeader = Array.prototype.map.call(document.querySelectorAll("#matrix thead th.leg"),
                                            function (th) { return th.textContent; });
  seen.legCells = document.querySelectorAll("#matrix tbody tr:not(.file)")[0].querySelectorAll("td").length;
  leg.value = ""; leg.dispatchEvent(new Event("change"));
  document.querySelector("button.toggle").click();
  seen.expanded = rows();
  seen.shown = document.getElementById("shown").textContent;
  document.documentElement.setAttribute("data-seen", JSON.stringify(seen));
});
</script>
"""


def test_html_matrix_filters_and_collapses_in_a_browser(tmp_path: Path) -> None:
    binary = _chromium()
    if binary is None:
        pytest.skip("no Chromium: install Debian's chromium (/usr/bin/chromium; .ci/run does)")
    from reportdata import A100, V100, entry, run_report

    from pytest_dtypegate.ci.model import build_matrix

    def suite(caps: Any, leg: str, broken: str | None) -> dict[str, Any]:
        entries = []
        for f in range(3):
            for t in range(40):
                for p in ("bf16", "fp32"):
                    name = f"tests/test_m{f}.py::test_{t}[{p}]"
                    if name == broken:
                        entries.append(
                            entry(
                                name,
                                "failed",
                                requested=p,
                                precision=p,
                                category="unsupported",
                                reason="RuntimeError: no kernel",
                            )
                        )
                    else:
                        entries.append(entry(name, requested=p, precision=p, support="native"))
        return run_report(caps, entries, leg=leg)

    matrix = build_matrix(
        [("a.json", suite(A100, "a100", None)), ("v.json", suite(V100, "v100", "tests/test_m1.py::test_7[bf16]"))]
    )
    page = tmp_path / "m.html"
    page.write_text(render_html(matrix).replace("</body>", FILTER_PROBE + "</body>"), encoding="utf-8")
    dom = _browser(binary, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    seen = json.loads(html.unescape(dom.stdout.split('data-seen="', 1)[1].split('"', 1)[0]))
    # the file with a failure first, its failing row shown; the rows that passed everywhere collapsed per file
    assert seen["initial"][:2] == [
        "FILE tests/test_m1.py \u2014 40 tests, \u25b8 39 passed on every leg",
        "tests/test_m1.py::test_7",
    ]
    assert seen["initial"][2:] == [
        "FILE tests/test_m0.py \u2014 40 tests, \u25b8 40 passed on every leg",
        "FILE tests/test_m2.py \u2014 40 tests, \u25b8 40 passed on every leg",
    ]
    assert seen["header"] == 2
    assert seen["failed"] == ["FILE tests/test_m1.py \u2014 1 test", "tests/test_m1.py::test_7"]
    assert seen["legHeader"] == ["v100"] and seen["legCells"] == 2
    expanded = seen["expanded"]
    assert expanded[0].startswith("FILE tests/test_m1.py \u2014 40 tests, \u25be 39 passed")
    assert len([r for r in expanded if r.startswith("tests/test_m1.py::")]) == 40
    assert seen["shown"] == "120 of 120 tests match"
