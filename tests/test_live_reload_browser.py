"""Live reload in headless Chromium (Debian's chromium and chromium-driver,
driven by Selenium): a Flask site served by `fastcore run app.py
--live-reload`, its files saved while tabs are open on it.

Skipped where Chromium or its driver is missing, unless
FASTCORE_REQUIRE_BROWSER=1 (CI sets it: there, a missing browser fails).
"""

import os
import time

import pytest

from conftest import free_port
from live_reload import Browser, Site, chromium_paths, listening, serve, stop

if chromium_paths() is None:
    if os.environ.get("FASTCORE_REQUIRE_BROWSER") == "1":
        raise RuntimeError("FASTCORE_REQUIRE_BROWSER=1 and chromium or chromedriver is missing")
    pytest.skip("needs chromium and chromedriver (apt-get install chromium chromium-driver)",
                allow_module_level=True)


@pytest.fixture
def site(tmp_path):
    return Site(str(tmp_path))


@pytest.fixture
def browser():
    browser = Browser()
    yield browser
    browser.quit()


@pytest.fixture
def served(site):
    process, url = serve(site, free_port())
    yield url
    assert stop(process) == 0


def title_is(text):
    return f"return document.getElementById('title')?.textContent === {text!r}"


def view_is(text):
    return f"return document.getElementById('view')?.textContent === {text!r}"


def test_a_saved_template_is_on_screen_within_a_second(site, browser, served):
    browser.open(served + "/")
    listening(site)
    saved = time.monotonic()
    site.save_template("Template two")
    browser.wait_for(title_is("Template two"), timeout=1.0)
    assert time.monotonic() - saved < 1.0


def test_a_saved_stylesheet_is_swapped_in_place_and_the_page_keeps_its_state(site, browser,
                                                                              served):
    browser.open(served + "/")
    listening(site)
    color = "return getComputedStyle(document.getElementById('title')).color"
    assert browser.run(color) == "rgb(200, 0, 0)"
    browser.run("window.pageState = 'kept'; window.scrollTo(0, 0)")
    site.save_style("rgb(0, 128, 0)")
    browser.wait_for(f"return ({color.removeprefix('return ')}) === 'rgb(0, 128, 0)'", timeout=2)
    assert browser.run("return window.pageState") == "kept"  # not reloaded
    links = browser.run("return [...document.querySelectorAll('link[rel=stylesheet]')]"
                        ".map(l => l.getAttribute('href'))")
    assert len(links) == 1 and links[0].startswith(served + "/static/site.css?fastcore-live=")


def test_a_saved_view_is_served_after_the_restart_with_no_manual_reload(site, browser, served):
    browser.open(served + "/")
    listening(site)
    assert browser.text("view") == "view one"
    site.save_view("view two")
    browser.wait_for(view_is("view two"), timeout=15)
    assert browser.text("title") == "Template one"


def test_a_syntax_error_shows_then_the_fix_recovers(site, browser, served):
    browser.open(served + "/")
    listening(site)
    site.write("app.py", "def index(:\n    pass\n")
    browser.wait_for("return document.body?.innerText.includes('SyntaxError')", timeout=15)
    site.save_view("view fixed")
    browser.wait_for(view_is("view fixed"), timeout=15)


def test_two_tabs_both_follow(site, browser, served):
    first = browser.open(served + "/")
    second = browser.open(served + "/", new_tab=True)
    deadline = time.monotonic() + 10
    while read_streams(site) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    site.save_template("Both tabs")
    for tab in (first, second):
        browser.switch(tab)
        browser.wait_for(title_is("Both tabs"), timeout=2)
    site.save_style("rgb(0, 0, 255)")
    for tab in (first, second):
        browser.switch(tab)
        browser.wait_for("return getComputedStyle(document.getElementById('title')).color"
                         " === 'rgb(0, 0, 255)'", timeout=2)


def read_streams(site):
    with open(os.path.join(site.root, "server.log")) as f:
        return f.read().count('"GET /__fastcore__/events HTTP')


def test_a_page_over_https_with_an_adhoc_certificate_follows_too(site, browser):
    process, url = serve(site, free_port(), "--cert", "adhoc")
    try:
        assert url.startswith("https://")
        browser.open(url + "/")
        listening(site)
        site.save_template("Over TLS")
        browser.wait_for(title_is("Over TLS"), timeout=2)
    finally:
        assert stop(process) == 0


def test_a_second_browser_follows_as_well(site, browser, served):
    other = Browser()
    try:
        browser.open(served + "/")
        other.open(served + "/")
        deadline = time.monotonic() + 10
        while read_streams(site) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        site.save_template("Every browser")
        browser.wait_for(title_is("Every browser"), timeout=2)
        other.wait_for(title_is("Every browser"), timeout=2)
    finally:
        other.quit()
