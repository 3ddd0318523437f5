"""Live reload, timed in headless Chromium: from a save to the new pixels.

    apt-get install chromium chromium-driver
    python benchmarks/live_reload.py --rounds 10 --screenshot docs/live-reload.png

A Flask site (a template, a stylesheet, a view) is served by ``fastcore run
app.py --live-reload``, one tab open on it. Each round saves one file and
measures, on the machine's one clock, from the save to the first frame that
shows the change:

- a template: the reloaded page's first contentful paint;
- a stylesheet: the first animation frame whose computed style changed (the
  page is not reloaded);
- a ``.py`` file: the first contentful paint of the page the new server
  process sent, after the reloader forked it (fastcore's reloader, see
  docs/reloader.md).

Printed: the median and the range of each, in ms. ``--screenshot`` saves the
page before and after a template save, side by side. ``--idle`` measures
instead the server's CPU (the reloader's process and the serving one, from
/proc/*/task/*/schedstat) over 5 s with 1 and then 3 tabs open and nothing
saved, and how long SIGTERM then takes to end it. Only 127.0.0.1 is
contacted. The tests (tests/test_live_reload_browser.py) use ``Site`` and
``Browser`` from here.
"""

import argparse
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

APP = '''\
from flask import Blueprint, Flask, render_template

VIEW = "{view}"

app = Flask(__name__)
shop = Blueprint("shop", __name__, url_prefix="/shop", template_folder="shop_templates",
                 static_folder="shop_static", static_url_path="/static")


@app.route("/")
def index():
    return render_template("index.html", view=VIEW)


@app.route("/data")
def data():
    return {{"numbers": [1, 2, 3]}}


@shop.route("/")
def shop_index():
    return render_template("shop.html")


app.register_blueprint(shop)
'''

PAGE = '''\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>fastcore live reload</title>
<link rel="stylesheet" href="/static/site.css">
</head>
<body>
<h1 id="title">{title}</h1>
<p id="view">{{{{ view }}}}</p>
<p>Save a template, a stylesheet or a view: this tab follows.</p>
</body>
</html>
'''

STYLE = '''\
body {{ font: 18px/1.5 system-ui, sans-serif; margin: 2em; background: {background}; }}
#title {{ color: {color}; }}
'''


class Site:
    """A Flask app's files in ``root``: app.py (its view says ``view``),
    templates/index.html (its heading says ``title``), static/site.css, and a
    blueprint with its own template and static folders."""

    def __init__(self, root):
        self.root = root
        for folder in ("templates", "static", "shop_templates", "shop_static"):
            os.makedirs(os.path.join(root, folder), exist_ok=True)
        self.write("shop_templates/shop.html",
                   '<!doctype html><html><head><link rel="stylesheet" href="/shop/static/shop.css">'
                   '</head><body><h1 id="title">Shop</h1></body></html>\n')
        self.write("shop_static/shop.css", "h1 { color: rgb(0, 0, 200); }\n")
        self.save_view("view one")
        self.save_template("Template one")
        self.save_style("rgb(200, 0, 0)")

    def write(self, name, text):
        """Save ``text`` as ``name`` (under root), as an editor does: in place."""
        with open(os.path.join(self.root, name), "w") as f:
            f.write(text)

    def save_view(self, view):
        self.write("app.py", APP.format(view=view))

    def save_template(self, title):
        self.write("templates/index.html", PAGE.format(title=title))

    def save_style(self, color, background="white"):
        self.write("static/site.css", STYLE.format(color=color, background=background))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(site, port, *options):
    """``fastcore run app.py --live-reload`` in the site's folder, its output
    in ``site.root``/server.log; returns once the page answers."""
    log = open(os.path.join(site.root, "server.log"), "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "fastcore", "run", "app.py", "--live-reload", "--port", str(port),
         *options], cwd=site.root, stdout=log, stderr=subprocess.STDOUT)
    scheme = "https" if "--cert" in options else "http"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if "Live reload: on" in read_log(site):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return process, f"{scheme}://127.0.0.1:{port}"
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the server did not start:\n{read_log(site)}")


def read_log(site):
    with open(os.path.join(site.root, "server.log")) as f:
        return f.read()


def listening(site, page="/", timeout=20):
    """Wait until the server's log shows the last load of ``page`` followed by
    an event stream (that tab's script is listening)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = read_log(site)
        loaded = log.rfind(f'"GET {page} HTTP')
        if loaded >= 0 and log.rfind('"GET /__fastcore__/events HTTP') > loaded:
            return
        time.sleep(0.01)
    raise AssertionError(f"no event stream after the last load of {page}:\n{read_log(site)}")


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def chromium_paths():
    """(chromium, chromedriver) from PATH, or None when either is missing."""
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                    "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


class Browser:
    """Headless Chromium driven by Selenium (WebDriver), one window per tab."""

    def __init__(self, width=720, height=480):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        browser, driver = chromium_paths()
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        options.accept_insecure_certs = True  # --cert adhoc
        # A profile of its own: two Chromiums on one profile (tests run in
        # parallel) and the second never starts ("DevToolsActivePort file
        # doesn't exist").
        self.profile = tempfile.mkdtemp(prefix="fastcore-chromium-")
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         f"--user-data-dir={self.profile}",
                         "--disable-gpu", f"--window-size={width},{height}",
                         # Background tabs keep their timers and streams at full speed.
                         "--disable-background-timer-throttling",
                         "--disable-renderer-backgrounding",
                         "--disable-backgrounding-occluded-windows"):
            options.add_argument(argument)
        self.driver = webdriver.Chrome(options=options, service=Service(driver))

    def open(self, url, new_tab=False):
        """Open ``url`` (in a new tab when asked); returns the tab's handle."""
        if new_tab:
            self.driver.switch_to.new_window("tab")
        self.driver.get(url)
        return self.driver.current_window_handle

    def switch(self, handle):
        self.driver.switch_to.window(handle)

    def run(self, script, *args):
        """``script``'s result in the current tab; None while it navigates."""
        from selenium.common.exceptions import JavascriptException, WebDriverException

        try:
            return self.driver.execute_script(script, *args)
        except JavascriptException:
            raise
        except WebDriverException:  # the page is between two documents
            return None

    def wait_for(self, script, timeout=10.0, interval=0.01):
        """Poll ``script`` until it returns something true; that value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.run(script)
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"not true within {timeout} s: {script}\n"
                             f"page: {self.run('return document.documentElement.outerHTML')}")

    def text(self, element_id):
        return self.run(f"const e = document.getElementById({element_id!r}); "
                        "return e && e.textContent")

    def listening(self):
        """Whether live reload's stream in this tab is open (readyState 1)."""
        return self.run("return performance.getEntriesByType('resource')"
                        ".some(e => e.name.endsWith('/__fastcore__/events'))")

    def screenshot(self):
        return self.driver.get_screenshot_as_png()

    def quit(self):
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


# The epoch time (ms) of the current document's first contentful paint.
FIRST_PAINT = ("const p = performance.getEntriesByName('first-contentful-paint')[0];"
               "return p ? performance.timeOrigin + p.startTime : null")
# Watch the heading's colour each frame; the epoch time (ms) it changed goes
# to window.styleChangedAt.
WATCH_STYLE = textwrap.dedent("""
    window.styleChangedAt = null;
    const title = document.getElementById('title');
    const before = getComputedStyle(title).color;
    const tick = () => {
        if (getComputedStyle(title).color !== before) {
            window.styleChangedAt = performance.timeOrigin + performance.now();
        } else {
            requestAnimationFrame(tick);
        }
    };
    requestAnimationFrame(tick);
""")


def time_template(site, browser, n):
    """ms from a template save to the reloaded page's first paint."""
    listening(site)
    saved = time.time() * 1000
    site.save_template(f"Template {n}")
    browser.wait_for(f"return document.getElementById('title')?.textContent === 'Template {n}'")
    return browser.wait_for(FIRST_PAINT) - saved


def time_style(site, browser, n):
    """ms from a stylesheet save to the first frame in the new style."""
    browser.run(WATCH_STYLE)
    saved = time.time() * 1000
    site.save_style(f"rgb({n % 250}, 90, 160)")
    return browser.wait_for("return window.styleChangedAt") - saved


def time_view(site, browser, n):
    """ms from a .py save to the new process's page's first paint. The save
    waits a random part of a second first, as a person's save is in no step
    with the previous one (a polling reloader would be measured fairly too)."""
    listening(site)
    time.sleep(random.random())
    saved = time.time() * 1000
    site.save_view(f"view {n}")
    browser.wait_for(f"return document.getElementById('view')?.textContent === 'view {n}'",
                     timeout=20)
    return browser.wait_for(FIRST_PAINT) - saved


def screenshot_pair(site, browser, path):
    """The tab before and after a template and stylesheet save, side by side."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    site.save_template("Before the save")
    site.save_style("rgb(120, 120, 120)")
    browser.wait_for("return document.getElementById('title')?.textContent === 'Before the save'")
    time.sleep(0.3)
    before = Image.open(io.BytesIO(browser.screenshot())).convert("RGB")
    browser.run(WATCH_STYLE)
    site.save_style("rgb(214, 40, 90)", background="rgb(255, 248, 225)")
    browser.wait_for("return window.styleChangedAt")
    site.save_template("After the save, no F5")
    browser.wait_for("return document.getElementById('title')?.textContent === "
                     "'After the save, no F5'")
    time.sleep(0.3)
    after = Image.open(io.BytesIO(browser.screenshot())).convert("RGB")
    gap, caption = 24, 44
    sheet = Image.new("RGB", (before.width * 2 + gap, before.height + caption), "rgb(40, 44, 52)")
    draw = ImageDraw.Draw(sheet)
    try:
        font = ImageFont.load_default(size=20)
    except TypeError:  # Pillow before 10.1: one size
        font = ImageFont.load_default()
    for i, (shot, label) in enumerate(((before, "the tab, open"),
                                       (after, "the same tab, after saving index.html and "
                                               "site.css"))):
        x = i * (before.width + gap)
        sheet.paste(shot, (x, caption))
        draw.text((x + 8, 12), label, fill="white", font=font)
    sheet.save(path)


def cpu_seconds(pid):
    """CPU time used so far by every thread of ``pid`` (Linux)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:  # the thread ended
            pass
    return total / 1e9


def measure_idle(tabs):
    """(server CPU seconds over 5 s with ``tabs`` tabs open, seconds SIGTERM
    takes to end the server, its exit status)."""
    site = Site(tempfile.mkdtemp(prefix="fastcore-live-"))
    process, url = serve(site, free_port())
    browser = Browser()
    try:
        for n in range(tabs):
            browser.open(url + "/", new_tab=n > 0)
        while read_log(site).count('"GET /__fastcore__/events HTTP') < tabs:
            time.sleep(0.05)
        time.sleep(1.5)  # start-up work done
        with open(f"/proc/{process.pid}/task/{process.pid}/children") as f:
            pids = [process.pid, *map(int, f.read().split())]
        before = sum(map(cpu_seconds, pids))
        time.sleep(5)
        used = sum(map(cpu_seconds, pids)) - before
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        status = process.wait(10)
        return used, time.monotonic() - started, status
    finally:
        browser.quit()
        if process.poll() is None:
            stop(process)
        shutil.rmtree(site.root, ignore_errors=True)


def cpu_model():
    with open("/proc/cpuinfo") as f:
        return next((line.split(":", 1)[1].strip() for line in f
                     if line.startswith("model name")), "unknown CPU")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--screenshot", help="save a before/after PNG here")
    parser.add_argument("--idle", action="store_true",
                        help="measure an idle server's CPU with tabs open, and SIGTERM")
    args = parser.parse_args(argv)
    if chromium_paths() is None:
        parser.exit(2, "needs chromium and chromedriver on PATH: "
                       "apt-get install chromium chromium-driver\n")
    if args.idle:
        print(f"idle server with tabs open, headless Chromium, {cpu_model()}:")
        for tabs in (1, 3):
            used, ended, status = measure_idle(tabs)
            print(f"  {tabs} tab(s): {used * 1000:.1f} ms of CPU over 5 s; "
                  f"SIGTERM ended it in {ended:.3f} s (exit {status})")
        return
    root = tempfile.mkdtemp(prefix="fastcore-live-")
    site = Site(root)
    process, url = serve(site, free_port())
    browser = Browser()
    try:
        browser.open(url + "/")
        if args.screenshot:
            screenshot_pair(site, browser, args.screenshot)
        results = {}
        for name, measure in (("template", time_template), ("stylesheet", time_style),
                              ("py file", time_view)):
            results[name] = [measure(site, browser, n) for n in range(1, args.rounds + 1)]
        print(f"save to new pixels, headless Chromium, {args.rounds} rounds, {cpu_model()}:")
        for name, times in results.items():
            print(f"  {name:<11} median {statistics.median(times):7.1f} ms  "
                  f"(min {min(times):.1f}, max {max(times):.1f})")
        if args.screenshot:
            print(f"screenshot: {args.screenshot}")
    finally:
        browser.quit()
        stop(process)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
