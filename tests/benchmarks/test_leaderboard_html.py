"""The board's HTML page: self-contained (nothing to fetch), rendered from disk in headless Chromium with the network
unreachable, its scripts run; the DOM holds the entries, their numbers and the drill-down.

The browser tests need Chromium (Debian package ``chromium``; ``scripts/system-deps.sh`` installs it as root) and
skip, saying so, without it.
"""

from __future__ import annotations

import html.parser
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from benchmarks.leaderboard.cli import main as leaderboard

from .test_leaderboard_2025 import naive, organisers_case, write_eval_files, write_gt, write_matrix, write_top

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian package chromium: "
                                    "apt-get install chromium, or scripts/system-deps.sh as root)")
# no network for the page: every proxied request goes to a closed port, every host name fails to resolve
OFFLINE = ["--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]
QUIET = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
         "--hide-scrollbars"]


@pytest.fixture(scope="module")
def board_page(tmp_path_factory):
    """A k=16 board (DCASE 2025 layout): two active entries -- a score matrix and a top-16 list -- and one superseded
    entry; its page written by ``show --format html --out``."""
    tmp = tmp_path_factory.mktemp("lb_html")
    case = organisers_case(11)
    gt, ev = write_gt(tmp / "metadata_eval.csv", case), write_eval_files(tmp / "eval_files.txt", case)
    weak = dict(case, matrix=case["matrix"] + np.random.default_rng(2).standard_normal(case["matrix"].shape) * 1.5)
    boards = f"sqlite:///{tmp / 'boards.db'}"
    common = ["--ground-truth", str(gt), "--boards", boards]
    submissions = [("Team <A>", "matrix", write_matrix(tmp / "a.csv", case), ["--eval-files", str(ev), "--k", "16"]),
                   ("Team B", "list16", write_top(tmp / "b_old.csv", case), []),
                   ("Team B", "list16", write_top(tmp / "b.csv", weak), ["--replace"])]
    for team, system, path, extra in submissions:
        assert leaderboard(["submit", "--board", "dcase2025", "--team", team, "--system", system, "--submission",
                            str(path), *common, *extra]) == 0
    out = tmp / "site"
    assert leaderboard(["show", "dcase2025", "--format", "html", "--out", str(out), "--resamples", "1000",
                        "--boards", boards]) == 0
    page = out / "dcase2025.html"
    return {"page": page, "case": case, "weak": weak, "tmp": tmp, "boards": boards,
            "map_a": naive(case)[0]["map16"], "map_b": naive(weak)[0]["map16"]}


class _Refs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "data", "action", "formaction") or \
                    (tag == "meta" and name == "content" and "url=" in (value or "").lower()):
                self.refs.append((tag, name, value or ""))


def test_the_page_is_self_contained(board_page, capsys):
    text = board_page["page"].read_text(encoding="utf-8")
    refs = _Refs()
    refs.feed(text)
    assert refs.refs, "the page has links (in-page anchors) and the figure"
    for tag, name, value in refs.refs:
        assert value.startswith("#") or value.startswith("data:"), (tag, name, value[:80])
    assert "link" not in refs.tags and "iframe" not in refs.tags and "@import" not in text
    assert not re.search(r"url\(\s*['\"]?(?!data:)", text)
    assert "default-src 'none'" in text  # the browser itself refuses any load
    assert 'src="data:image/png;base64,' in text
    # without --out the page goes to stdout
    assert leaderboard(["show", "dcase2025", "--format", "html", "--resamples", "200", "--boards",
                        board_page["boards"]]) == 0
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")


def _chromium(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *QUIET, *args], capture_output=True, text=True, timeout=timeout)


def _page_requests(netlog: Path) -> list[str]:
    """URLs the page asked for (browser-internal traffic -- initiator 'not an origin' -- and the page itself
    excluded), from Chromium's net log."""
    log = json.loads(netlog.read_text())
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    out = []
    for event in log["events"]:
        params = event.get("params") or {}
        url = params.get("url", "")
        if names.get(event["type"]) == "URL_REQUEST_START_JOB" and url and \
                params.get("initiator") != "not an origin" and not url.startswith(("file:", "data:")):
            out.append(url)
    return out


@needs_chromium
def test_chromium_renders_the_page_offline_with_entries_numbers_and_drill_down(board_page, tmp_path):
    page = board_page["page"]
    netlog = tmp_path / "net.json"
    entry_b = None
    text = page.read_text(encoding="utf-8")
    m = re.search(r'<tr class="entry[^"]*" data-entry-id="(\d+)" data-rank="2"', text)
    assert m
    entry_b = m.group(1)
    proc = _chromium([*OFFLINE, f"--user-data-dir={tmp_path / 'profile'}", f"--log-net-log={netlog}",
                      "--virtual-time-budget=10000", "--dump-dom", page.as_uri() + f"#entry-{entry_b}"])
    dom = proc.stdout
    assert proc.returncode == 0 and dom.strip(), proc.stderr[-2000:]
    # the page's scripts ran, and the page's policy blocked nothing (there was nothing to block)
    assert re.search(r'<body[^>]*data-ready="1"', dom), "the page's script did not finish"
    assert "data-csp-violations=" not in re.search(r"<body[^>]*>", dom).group(0)
    # no request left the page: only the browser's own background traffic is in the net log
    assert _page_requests(netlog) == []
    # the standings: both active entries, in order, with their mAP@16 (the naive organisers' definition)
    rows = re.findall(r'<tr class="entry[^"]*" data-entry-id="\d+" data-rank="(\d+)" data-map="([0-9.]+)">\s*'
                      r'<td>\d+</td><td class="l">([^<]*)</td><td class="l"><a href="#entry-\d+" class="to-drill"'
                      r'[^>]*>([^<]*)</a></td>', dom)
    assert [(r[0], r[2], r[3]) for r in rows] == [("1", "Team &lt;A&gt;", "matrix"), ("2", "Team B", "list16")]
    assert float(rows[0][1]) == pytest.approx(board_page["map_a"], abs=1e-6)
    assert float(rows[1][1]) == pytest.approx(board_page["map_b"], abs=1e-6)
    assert f'<td class="map">{board_page["map_a"]:.4f}</td>' in dom
    assert "Ranked by <b>mAP@16</b>" in dom and "badge lead" in dom
    # the drill-down of entry B, opened by the URL's #entry-N: one point per query, drawn by the script
    drill = dom[dom.index(f'<details class="drill" id="entry-{entry_b}"'):]
    drill = drill[: drill.index("</details>")]
    assert re.match(r'<details class="drill" id="entry-\d+" data-entry-id="\d+" data-other-id="\d+" open', drill)
    n_queries = len(board_page["case"]["queries"])
    assert drill.count('class="pt"') == n_queries
    differ = re.findall(r'<tr class="diff-row" data-query-index="(\d+)"><td class="l wrap">([^<]+)<div', drill)
    assert len(differ) == 10
    queries = board_page["case"]["queries"]
    assert {html_unescape(q) for _, q in differ} <= set(queries)
    # the rows really are the largest differences of per-query AP@16 (from the naive reference)
    ap_a, ap_b = np.array(naive(board_page["case"])[1]), np.array(naive(board_page["weak"])[1])
    canonical = sorted(range(n_queries), key=lambda i: queries[i])
    delta = np.abs(ap_b - ap_a)[canonical]
    shown = [int(i) for i, _ in differ]
    assert sorted(delta[shown], reverse=True) == pytest.approx(sorted(delta, reverse=True)[:10])
    # the history marks the superseded entry; the ground truth's fingerprint is on the page
    assert re.search(r'<tr class="superseded" data-entry-id="\d+">.*?badge sup">superseded</span>', dom, re.S)
    fingerprint = json.loads(re.search(r'<script type="application/json" id="board-data">(.*?)</script>', dom,
                                       re.S).group(1))["board"]["fingerprint"]
    assert f'<span class="fp" id="fingerprint">{fingerprint}</span>' in dom and len(fingerprint) == 64


def html_unescape(s: str) -> str:
    import html as _html

    return _html.unescape(s)


@needs_chromium
def test_the_net_log_check_does_see_a_page_that_fetches(tmp_path):
    """The control for the check above: a page with remote resources shows up in the net log."""
    canary = tmp_path / "canary.html"
    canary.write_text('<html><body><img src="http://canary.invalid/x.png"></body></html>', encoding="utf-8")
    netlog = tmp_path / "net.json"
    proc = _chromium([*OFFLINE, f"--user-data-dir={tmp_path / 'profile'}", f"--log-net-log={netlog}",
                      "--virtual-time-budget=3000", "--dump-dom", canary.as_uri()])
    assert proc.returncode == 0
    assert _page_requests(netlog) == ["http://canary.invalid/x.png"]


@needs_chromium
def test_a_screenshot_of_the_page(board_page, tmp_path):
    shot = tmp_path / "board.png"
    proc = _chromium([*OFFLINE, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1600",
                      "--virtual-time-budget=5000", f"--screenshot={shot}", board_page["page"].as_uri()])
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1600)
    assert len(data) > 50_000  # a rendered page, not a blank one
