"""The console in a real browser: Debian's headless Chromium, driven by
Selenium through Debian's chromedriver, against a real `switchboard serve`
on loopback.

Deliveries are sent to the receiver and appear in the page with their
reasons; one opens to its CloudEvent and its headers (no secret anywhere in
the page); a refused one is replayed once the receiver is restarted with
the right secret (accepted, then a duplicate); the try pane, running the
processor in the page, gives the very event `switchboard process` gives,
signs a body as the vendor would, and shows bad input as an error. Every
wait is on a DOM condition, never a sleep. The screenshot goes to
`target/console.png`, or to `$CONSOLE_SCREENSHOT` (`make screenshot` makes
`docs/console.png`).
"""

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "target" / "release" / "switchboard"
FIXTURES = ROOT / "fixtures"
WAIT = 10  # seconds, at most, for any one DOM condition
POLL = 0.05  # seconds between two looks (Selenium's default is half a second)

# The fixture's secret: what Varda signs with. The receiver starts with a
# wrong one, as an operator who pasted the old key would.
VARDA = json.loads((FIXTURES / "varda" / "call-started.json").read_text())
RIGHT = VARDA["config"]["vendors"]["varda"]["secrets"][0]
WRONG = "vk_live_2025_retired_0000"
ATOMS_SECRET = "console-atoms-secret"


def config(varda_secret):
    return f"""
[vendors.varda]
secrets = ["{varda_secret}"]

[vendors.atoms]
secrets = ["{ATOMS_SECRET}"]
"""


class Receiver:
    """`switchboard serve` on loopback; `port` 0 picks a free one."""

    def __init__(self, tmp, varda_secret, port=0):
        cfg = tmp / f"switchboard-{varda_secret}.toml"
        cfg.write_text(config(varda_secret))
        self.process = subprocess.Popen(
            [str(CLI), "serve", "--listen", f"127.0.0.1:{port}", "--config", str(cfg),
             "--out", str(tmp / "events.ndjson"), "--log-format", "text", "--log-level", "info"],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        for line in self.process.stderr:
            found = re.search(r"listening on (\S+)", line)
            if found:
                self.address = found.group(1)
                break
        else:
            raise AssertionError(f"the receiver did not start: {self.process.wait()}")
        # Its log is drained, so that it never blocks on a full pipe.
        threading.Thread(target=self.process.stderr.read, daemon=True).start()
        self.port = int(self.address.rsplit(":", 1)[1])
        self.base = f"http://{self.address}"

    def post(self, path, headers, body):
        request = urllib.request.Request(self.base + path, data=body, method="POST")
        for name, value in headers:
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=10) == 0


def sign(vendor, secret, body, timestamp):
    """The headers `switchboard sign` prints, as pairs."""
    out = subprocess.run(
        [str(CLI), "sign", "--vendor", vendor, "--secret", secret, "--timestamp", str(timestamp),
         "--data-binary", "-"],
        input=body, capture_output=True, check=True,
    ).stdout.decode()
    return [tuple(part.strip() for part in line.split(":", 1)) for line in out.splitlines()]


def process(vendor, secret, headers, body, now):
    """The event `switchboard process` prints."""
    args = [str(CLI), "process", "--vendor", vendor, "--secret", f"{vendor}={secret}",
            "--now", str(now), "--data-binary", "-"]
    for name, value in headers:
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(args, input=body, capture_output=True, check=True)
    return json.loads(out.stdout)


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    # A quiet browser: none of the services a desktop profile starts
    # (they cost the test's machine CPU and are not what is tested).
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1400,1250", "--disable-gpu", "--no-first-run",
                     "--disable-extensions", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-default-apps",
                     "--disable-breakpad", "--disable-client-side-phishing-detection",
                     "--disable-features=Translate,OptimizationHints,MediaRouter",
                     "--mute-audio", "--password-store=basic"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    yield driver
    driver.quit()


def wait(driver, condition, what):
    """Polls `condition` until it holds. The page re-renders its tables as
    deliveries arrive, so an element found a moment ago may be gone: that
    is a reason to look again, not a failure."""
    return WebDriverWait(driver, WAIT, poll_frequency=POLL,
                         ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: condition(d), message=what)


def click(element):
    element.click()
    return True


def rows(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#deliveries tbody tr")


def row_texts(driver):
    return [r.text for r in rows(driver)]


def test_the_console(tmp_path, browser):
    started = time.monotonic()
    now = int(time.time())
    receiver = Receiver(tmp_path, WRONG)
    try:
        browser.get(receiver.base + "/console")
        wait(browser, lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "live",
             "the stream is live")
        wait(browser, lambda d: d.find_element(By.ID, "try-state").get_attribute("data-ready") == "yes",
             "the processor is loaded in the page")

        # Three deliveries: Varda's signed with the right secret (the
        # receiver has a wrong one), one with no signature, Atoms' good one.
        varda_body = VARDA["request"]["body"].encode()
        varda_headers = sign("varda", RIGHT, varda_body, now)
        assert receiver.post("/webhooks/varda", varda_headers, varda_body)[0] == 401
        unsigned = [("Content-Type", "application/json"), ("X-Varda-Delivery", "dlv_unsigned")]
        assert receiver.post("/webhooks/varda", unsigned, varda_body)[0] == 401
        atoms = json.loads(next((FIXTURES / "atoms").glob("*.json")).read_text())
        atoms_body = atoms["request"]["body"].encode()
        status, accepted = receiver.post("/webhooks/atoms", sign("atoms", ATOMS_SECRET, atoms_body, now), atoms_body)
        assert status == 200, accepted

        wait(browser, lambda d: len(rows(d)) == 3, "three deliveries listed")
        texts = row_texts(browser)
        assert "no-match" in texts[2] and "unauthenticated" in texts[2], texts
        assert "missing-header" in texts[1] and "dlv_unsigned" in texts[1], texts
        assert accepted["type"] in texts[0] and "ok" in texts[0], texts
        counters = browser.find_element(By.ID, "counters").text
        assert "varda unauthenticated 2" in counters and "atoms ok 1" in counters, counters
        assert len(browser.find_elements(By.CSS_SELECTOR, "#latency rect")) == 3

        # The accepted one opens to its CloudEvent, pretty-printed.
        wait(browser, lambda d: click(rows(d)[0]), "the accepted delivery is opened")
        wait(browser, lambda d: accepted["id"] in d.find_element(By.ID, "detail-event").text,
             "the event is shown")
        event_text = browser.find_element(By.ID, "detail-event").text
        assert json.loads(event_text)["id"] == accepted["id"]
        assert '\n  "type": ' in event_text, "pretty-printed"
        assert not browser.find_element(By.ID, "token-form").is_displayed(), "no token is asked for"
        shot = Path(os.environ.get("CONSOLE_SCREENSHOT", ROOT / "target" / "console.png"))
        shot.parent.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(shot))

        # The refused one: its headers, the signature shortened.
        wait(browser, lambda d: click(rows(d)[2]), "the refused delivery is opened")
        wait(browser, lambda d: "no-match" in d.find_element(By.ID, "detail-summary").text,
             "the refusal is shown")
        headers = browser.find_element(By.ID, "detail-headers").text
        signature = dict(varda_headers)["X-Varda-Signature"]
        assert "x-varda-signature" in headers.lower() and "characters)" in headers, headers
        assert signature not in headers
        page = browser.page_source
        for secret in [WRONG, RIGHT, ATOMS_SECRET]:
            assert secret not in page

        # A restart with the right secret: the page reconnects, the refusal
        # is still there (from the refusal log), and its replay is accepted,
        # then a duplicate.
        receiver.stop()
        receiver = Receiver(tmp_path, RIGHT, port=receiver.port)
        wait(browser, lambda d: any("earlier" in t and "no-match" in t for t in row_texts(d)),
             "the refusals kept before the restart are listed")
        wait(browser, lambda d: click(next(r for r in rows(d) if "no-match" in r.text)
                                      .find_element(By.CSS_SELECTOR, "button.replay")),
             "the refusal's replay button is clicked")
        result = wait(browser, lambda d: d.find_element(By.ID, "replay-result").get_attribute("data-outcome"),
                      "the replay answers")
        assert result == "accepted", browser.find_element(By.ID, "replay-result").text
        browser.find_element(By.ID, "detail-replay").click()
        wait(browser, lambda d: "duplicate" in d.find_element(By.ID, "replay-result").text,
             "a second replay is a duplicate")
        journal = (tmp_path / "events.ndjson").read_text().splitlines()
        assert len(journal) == 2, journal  # Atoms' event and the replayed one, once

        # Try a delivery: the fixture's, at its time, gives the CLI's event.
        fill_try(browser, "varda", RIGHT, VARDA["now"], VARDA["request"]["headers"], VARDA["request"]["body"])
        in_page = run_try(browser, "ok")
        cli = process("varda", RIGHT, VARDA["request"]["headers"], varda_body, VARDA["now"])
        assert json.loads(in_page) == cli

        # Sign in the page, then verify: the CLI gives the same event for
        # the headers the page signed.
        fill_try(browser, "atoms", ATOMS_SECRET, now, [], atoms["request"]["body"])
        browser.find_element(By.ID, "try-sign").click()
        wait(browser, lambda d: "signed as atoms" in d.find_element(By.ID, "try-result").text, "signed")
        signed = [tuple(p.strip() for p in line.split(":", 1))
                  for line in browser.find_element(By.ID, "try-headers").get_attribute("value").splitlines()]
        assert signed == sign("atoms", ATOMS_SECRET, atoms_body, now), "the CLI signs alike"
        in_page = run_try(browser, "ok")
        assert json.loads(in_page) == process("atoms", ATOMS_SECRET, signed, atoms_body, now)

        # Bad input is an error in the pane, and the page keeps working.
        set_value(browser, "try-headers", "this is not a header")
        assert "header line 1" in run_try(browser, "error")
        set_value(browser, "try-headers", "\n".join(f"{n}: {v}" for n, v in signed))
        set_value(browser, "try-secret", "not-the-secret")
        assert "unauthenticated (no-match)" in run_try(browser, "error")
        set_value(browser, "try-now", "yesterday")
        assert "unix seconds" in run_try(browser, "error")
        fill_try(browser, "varda", "", VARDA["now"], VARDA["request"]["headers"], VARDA["request"]["body"])
        assert "unauthenticated" in run_try(browser, "error")
        fill_try(browser, "varda", RIGHT, VARDA["now"], VARDA["request"]["headers"], VARDA["request"]["body"])
        assert json.loads(run_try(browser, "ok")) == cli

        # No CSP violation, no script error, no missing file. (The stream's
        # reconnection attempts while the receiver restarted are refused.)
        problems = [e["message"] for e in browser.get_log("browser")
                    if e["level"] == "SEVERE" and not re.search(r"/console/api/stream - .*ERR_CONNECTION_REFUSED", e["message"])]
        assert not problems, problems

    finally:
        receiver.stop()
    print(f"\nthe browser test took {time.monotonic() - started:.2f} s")


def set_value(driver, element_id, value):
    """Sets a field as pasting would. (send_keys would type each character,
    a round trip through the browser each: seconds for a header block.)"""
    driver.execute_script("document.getElementById(arguments[0]).value = arguments[1]", element_id, value)


def fill_try(driver, vendor, secret, now, headers, body):
    Select(driver.find_element(By.ID, "try-vendor")).select_by_value(vendor)
    set_value(driver, "try-secret", secret)
    set_value(driver, "try-now", str(now))
    set_value(driver, "try-headers", "\n".join(f"{n}: {v}" for n, v in headers))
    set_value(driver, "try-body", body)


def run_try(driver, kind):
    """Runs the pane and returns its output once it is of `kind`."""
    out = driver.find_element(By.ID, "try-result")
    driver.execute_script("arguments[0].dataset.kind = ''", out)
    driver.find_element(By.ID, "try-run").click()
    wait(driver, lambda d: out.get_attribute("data-kind") != "", "the pane answers")
    assert out.get_attribute("data-kind") == kind, out.text
    return out.text
