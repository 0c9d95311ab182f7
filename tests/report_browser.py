"""Build a run's Snakemake report and open it in headless Chromium: it must load without errors and
show every figure. Shared by the end-to-end tests of each study."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import REPO, run_snakemake

ARTIFACTS = REPO / "test-artifacts"
# Chromium as root, offline: no sandbox, and no background connections (this network refuses them)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("FACTGAP_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is not installed (make browser installs Debian's chromium)")
        pytest.skip(
            "Chromium is not installed, so the report was not opened in a browser: run `make browser` "
            "(Debian's chromium; needs root) and rerun; CI requires it (FACTGAP_REQUIRE_BROWSER=1)"
        )
    return path


def build_report(workdir: Path, configfile: Path) -> Path:
    """`make report` in ``workdir``: the run-level job, then the HTML file."""
    run_snakemake(
        "report_items", "--cores", "2", "--forcerun", "summarize_run", "--configfile", str(configfile), cwd=workdir
    )
    report = workdir / "results" / "report.html"
    run_snakemake("report_items", "--report", str(report), "--configfile", str(configfile), cwd=workdir)
    return report


_DECODE_IMAGES = """async () => {
  const out = {};
  for (const [path, r] of Object.entries(results)) {
    if (!r.mime_type.startsWith("image/")) continue;
    const img = new Image();
    out[r.name] = await new Promise(done => {
      img.onload = () => done(img.naturalWidth); img.onerror = () => done(0); img.src = r.data_uri; });
  }
  return out;
}"""


def open_in_browser(report: Path, screenshot_name: str) -> dict:
    """Load the report, click through every category and subcategory and view every figure in the page.
    Returns what the browser saw: errors, the embedded results, decoded image widths, the figures shown."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    seen = {"errors": [], "shown": {}}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("pageerror", lambda e: seen["errors"].append(f"page error: {e}"))
        page.on("console", lambda m: seen["errors"].append(f"console: {m.text}") if m.type == "error" else None)
        page.on("requestfailed", lambda r: seen["errors"].append(f"request failed: {r.url[:80]}"))
        page.goto(report.resolve().as_uri())
        page.wait_for_selector("#loading-screen", state="hidden", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / screenshot_name))
        seen["results"] = page.evaluate("results")
        seen["categories"] = page.evaluate("categories")
        seen["decoded"] = page.evaluate(_DECODE_IMAGES)
        for category, subcategories in seen["categories"].items():
            for subcategory in subcategories:
                page.goto(report.resolve().as_uri())
                page.wait_for_selector("#loading-screen", state="hidden", timeout=60_000)
                menu = page.locator("nav").first  # the front page's text may name the same things
                menu.get_by_text("Results", exact=True).click()
                menu.get_by_text(category, exact=True).click()
                menu.get_by_text(subcategory, exact=True).first.click()
                if page.locator("#toggle-kind-figure").count():
                    page.locator("label[for=toggle-kind-figure]").click()
                eyes = page.locator("a[iconname=eye]")
                for i in range(eyes.count()):
                    eyes.nth(i).click()
                    try:  # a table item shows no image; every figure must show up in the final check
                        page.wait_for_function(
                            "Array.from(document.images).some(i => i.src.startsWith('data:image/png') && i.complete)",
                            timeout=5_000,
                        )
                    except PlaywrightTimeout:
                        continue
                    widths = page.evaluate(
                        "Array.from(document.images).filter(i => i.src.startsWith('data:image/png'))"
                        ".map(i => [i.src.match(/filename=([^;]+)/)[1], i.naturalWidth])"
                    )
                    seen["shown"].update(dict(widths))
        browser.close()
    return seen


def check_report(workdir: Path, configfile: Path, figure_names: list[str], screenshot_name: str) -> dict:
    """The report of the run in ``workdir`` holds and shows every figure named, and the run items."""
    report = build_report(workdir, configfile)
    assert report.stat().st_size > 100_000  # the report embeds its assets and every item
    seen = open_in_browser(report, screenshot_name)
    assert seen["errors"] == []
    names = {r["name"] for r in seen["results"].values()}
    expected = {f"{name}.png" for name in figure_names} | {"run_costs.png", "run_costs.csv", "run_provenance.csv"}
    assert expected <= names, f"missing from the report: {sorted(expected - names)}"
    assert {f"{name}.csv" for name in figure_names} <= names
    broken = {name: width for name, width in seen["decoded"].items() if width <= 0}
    assert broken == {}, f"figures the browser could not decode: {broken}"
    assert {f"{name}.png" for name in figure_names} | {"run_costs.png"} <= {
        n for n, w in seen["shown"].items() if w > 0
    }
    for result in seen["results"].values():
        if result["name"].removesuffix(".png").removesuffix(".csv") in figure_names:
            for part in ("What it shows", "What the paper found", "What this run found", "Provenance"):
                assert part in result["caption"], (result["name"], part)
    return seen
