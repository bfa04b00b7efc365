#!/usr/bin/env python3
"""The operator console (/admin/) in headless Chromium, through Selenium.

`--phase login`: the page answers with its login form; an admin logs in
and sees the console (this installation, the log's topics, the projection
versions, `--live` among them).

`--phase upgrade`, run while a projection version builds beside the live
one: logs in, waits until `--building` shows as building with a progress
bar and an ETA, saves a screenshot to `--screenshot`, then waits until it
is live.

Both check that the page shows no user data: none of `--hidden` appears
in its text.

Drives Debian's chromium through /usr/bin/chromedriver. Exits 0 after
printing "console: PASS"; on a mismatch prints "console: FAIL: <what>"
(with a screenshot beside `--screenshot`) and exits 1.
"""

import argparse
import os
import sys

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

NAME = "console"


class Failure(Exception):
    pass


def step(msg):
    print(f"ok: {msg}", flush=True)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1280,1100", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_for(driver, seconds, what, condition):
    # The page replaces its rows on every refresh: an element found a
    # moment ago may be gone, so a condition is simply tried again.
    wait = WebDriverWait(driver, seconds, poll_frequency=0.2,
                         ignored_exceptions=(StaleElementReferenceException,))
    try:
        return wait.until(lambda d: condition(d))
    except TimeoutException:
        raise Failure(f"within {seconds} s: {what}")


def row(driver, version, state=None):
    selector = f'tr[data-version="{version}"]'
    if state:
        selector += f'[data-state="{state}"]'
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0] if found else None


def log_in(driver, args):
    driver.get(args.url + "/admin/")
    form = wait_for(driver, 30, "the login form", lambda d: d.find_elements(By.ID, "login"))
    step("the console answers with its login form")
    driver.find_element(By.ID, "user").send_keys(args.user)
    driver.find_element(By.ID, "password").send_keys(args.password)
    form[0].click()
    wait_for(driver, 30, "the console after logging in",
             lambda d: d.find_elements(By.ID, "projections"))
    wait_for(driver, 30, "the installation's name",
             lambda d: args.installation in d.find_element(By.ID, "installation").text)
    viewer = driver.find_element(By.ID, "viewer").text
    if viewer != args.user:
        raise Failure(f"the console names {viewer!r} as the viewer, not {args.user!r}")
    step(f"logged in as {args.user}: {driver.find_element(By.ID, 'installation').text!r}")


def check_no_user_data(driver, args):
    text = driver.find_element(By.TAG_NAME, "body").text
    source = driver.page_source
    for hidden in args.hidden:
        if hidden in text or hidden in source:
            raise Failure(f"the page shows {hidden!r}, a user's data")
    if "/dav/" in source:
        raise Failure("the page shows a DAV path")
    step("no user data on the page")


def phase_login(driver, args):
    log_in(driver, args)
    wait_for(driver, 30, f"{args.live} live", lambda d: row(d, args.live, "live"))
    wait_for(driver, 30, "the log's topics",
             lambda d: len(d.find_elements(By.CSS_SELECTOR, "#log tbody tr")) >= 5)
    step(f"{args.live} shows live; the log shows its topics")
    check_no_user_data(driver, args)


def phase_upgrade(driver, args):
    log_in(driver, args)
    wait_for(driver, 60, f"{args.building} building",
             lambda d: row(d, args.building, "building"))

    def bar_and_eta(d):
        # The bar, then an ETA measured by the server (a rate needs a
        # second of samples, so the first refreshes say "estimating").
        r = row(d, args.building, "building")
        bars = r.find_elements(By.TAG_NAME, "progress") if r else []
        text = r.text if r else ""
        if bars and "ETA" in text and "estimating" not in text:
            return text, bars[0].get_attribute("value")
        return None

    text, value = wait_for(driver, 60, f"a progress bar and an ETA for {args.building}",
                           bar_and_eta)
    step(f"{args.building} building: {text!r} (bar at {value})")
    check_no_user_data(driver, args)
    os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
    if not driver.save_screenshot(args.screenshot):
        raise Failure(f"could not save a screenshot to {args.screenshot}")
    step(f"screenshot saved to {args.screenshot}")
    wait_for(driver, args.build_timeout, f"{args.building} live",
             lambda d: row(d, args.building, "live"))
    step(f"{args.building} is live")
    live_shot = os.path.splitext(args.screenshot)[0] + "-live.png"
    driver.save_screenshot(live_shot)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--installation", default="main")
    parser.add_argument("--phase", choices=["login", "upgrade"], required=True)
    parser.add_argument("--live", default="calendars@1")
    parser.add_argument("--building", default="calendars@2")
    parser.add_argument("--build-timeout", type=int, default=300)
    parser.add_argument("--screenshot", default="target/test-artifacts/console.png")
    parser.add_argument("--hidden", action="append", default=[],
                        help="text that must not appear on the page (repeatable)")
    args = parser.parse_args()
    driver = browser()
    try:
        {"login": phase_login, "upgrade": phase_upgrade}[args.phase](driver, args)
    except Failure as failure:
        try:
            driver.save_screenshot(os.path.splitext(args.screenshot)[0] + "-failure.png")
        except Exception:  # noqa: BLE001 - the failure is what matters
            pass
        print(f"{NAME}: FAIL: {failure}", flush=True)
        return 1
    finally:
        driver.quit()
    print(f"{NAME}: PASS", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
