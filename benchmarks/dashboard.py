"""The dashboard's targets (issue 13), measured in Debian's chromium:

    python benchmarks/dashboard.py                 # 1,000,000 agents, 2018-2020
    python benchmarks/dashboard.py --agents 200000

Prints, each beside its target:

- time to interactive: from the URL that ``socialcreditsim dashboard`` prints to a lever that
  takes input (target 3 s), and from the process start;
- a run started from the page, from the click to the results shown, against the CLI's whole
  ``socialcreditsim run national --agents N --no-report`` (target: at most 1.3 times).

Run it on a quiet machine; the Numba kernels should be compiled already (run anything once).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("needs Debian's chromium: apt-get install -y --no-install-recommends chromium")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--agents", type=int, default=1_000_000)
    args = ap.parse_args()
    runs = Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
    port = _free_port()
    t0 = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "socialcreditsim", "dashboard", "--port", str(port)]
        + ["--runs", str(runs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        while "dashboard:" not in server.stdout.readline():
            pass
        t_url = time.perf_counter()
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/")
            page.locator(".lever-surveillance-fpir input").fill("0.05")
            t_ready = time.perf_counter()
            page.locator(".bk-tab", has_text="Run").first.click()
            box = page.locator(".run-agents input")
            box.fill(str(args.agents))
            box.press("Enter")
            expect(page.locator(".memory")).to_contain_text("memory needed", timeout=10_000)
            t_click = time.perf_counter()
            page.locator(".run-button button").click()
            expect(page.locator(".run-status")).to_contain_text("done in", timeout=600_000)
            t_page = time.perf_counter() - t_click
            job = page.locator(".run-status").evaluate(
                "e => [...(e.shadowRoot || e).children].filter(c => !['STYLE', 'LINK']"
                ".includes(c.tagName)).map(c => c.innerText).join('')"
            )  # 'done in X s: folder', X the run and its saving, without showing the results
            browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    t_cli = time.perf_counter()
    subprocess.run(
        ["socialcreditsim", "run", "national", "--agents", str(args.agents), "--no-report"]
        + ["--out", str(runs / "cli"), "--quiet"],
        check=True,
        capture_output=True,
    )
    t_cli = time.perf_counter() - t_cli
    shutil.rmtree(runs)
    print(f"time to interactive from the URL: {t_ready - t_url:.2f} s (target 3 s)")
    print(f"time to interactive from the process start: {t_ready - t0:.2f} s")
    print(
        f"{args.agents:,} agents from the page: {t_page:.2f} s, the CLI's whole command"
        f" {t_cli:.2f} s: {t_page / t_cli:.2f} times (target at most 1.3); the page's status:"
        f" {job.strip()}"
    )


if __name__ == "__main__":
    main()
