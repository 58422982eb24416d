"""The two web pages, clicked through in headless Chromium against a real server.

Chromium is Debian's package (``.ci/run`` installs it); Playwright drives it through
``executable_path``, since Playwright's own browser download is not reachable. Outside CI a
machine without Chromium skips these tests; in CI (``CI=true``) a missing browser fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from eta.settings import Settings
from service.app import create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def base_url(
    model_root: Path, keys: tuple, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    settings = Settings(
        model_dir=model_root, api_keys=keys[1], state_dir=tmp_path_factory.mktemp("state")
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the test server did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    # bypass_csp: Playwright's waits evaluate JavaScript, which the pages' own CSP forbids.
    context = browser.new_context(locale="en-GB", timezone_id="Europe/Sarajevo", bypass_csp=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


def test_the_index_links_both_pages_with_the_key(page: object, base_url: str) -> None:
    page.goto(f"{base_url}/#key=abc")
    assert page.get_attribute("#to-console", "href").endswith("/console#key=abc")
    assert page.get_attribute("#to-checkout", "href").endswith("/checkout#key=abc")


def test_agent_console_quotes_copies_and_requotes_an_open_ticket(
    page: object, base_url: str, keys: tuple
) -> None:
    page.goto(f"{base_url}/console#key={keys[0]['quote']}")
    assert "#key" not in page.url  # the key leaves the address bar
    page.wait_for_selector("#feature-priority")
    page.fill("#ticket-id", "T-1042")
    page.select_option("#feature-priority", "high")
    page.select_option("#feature-category", "billing")
    page.fill("#feature-queue_open", "12")
    started = time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() - 3 * 86400))
    page.fill("#started-at", started)
    page.click("#get-quote")
    page.wait_for_selector("#result:not([hidden])")
    assert page.text_content("#q-id") == "· T-1042"
    assert "90% sure" in page.text_content("#q-promise")
    assert "clock hours so far" in page.text_content("#q-elapsed")
    assert page.locator("#q-risks li").count() >= 1
    message = page.text_content("#q-message")
    assert "at the latest" in message

    page.click("#copy-message")
    page.wait_for_selector("#copied:not([hidden])")
    assert page.evaluate("navigator.clipboard.readText()") == message

    row = page.locator("#open-tickets tbody tr", has_text="T-1042")
    assert row.count() == 1
    before = page.text_content("#q-request")
    row.locator("button.requote").click()
    page.wait_for_function(f"document.getElementById('q-request').textContent !== '{before}'")
    assert page.text_content("#q-id") == "· T-1042"
    assert page.locator("#open-tickets tbody tr").count() == 1  # the same ticket, re-quoted


def test_agent_console_shows_which_field_is_wrong(page: object, base_url: str, keys: tuple) -> None:
    page.goto(f"{base_url}/console#key={keys[0]['quote']}")
    page.wait_for_selector("#feature-priority")
    page.fill("#timezone", "Mars/Olympus")
    page.click("#get-quote")
    page.wait_for_selector("#form-error:not([hidden])")
    assert "timezone" in page.text_content("#form-error")


def test_agent_console_without_a_valid_key_says_so(page: object, base_url: str) -> None:
    page.goto(f"{base_url}/console#key=eta_wrong")
    page.wait_for_selector("#form-error:not([hidden])")
    assert "API key" in page.text_content("#form-error")


def test_checkout_widget_shows_three_windows_in_the_shoppers_language(
    page: object, base_url: str, keys: tuple
) -> None:
    asked = []
    page.on(
        "request",
        lambda r: asked.append(r.post_data_json) if r.url.endswith("/v1/quotes/batch") else None,
    )
    page.goto(f"{base_url}/checkout#key={keys[0]['quote']}")
    page.wait_for_selector("#shipping[aria-busy=false]")
    # No model in the address: the delivery model served, with what the cart says of itself.
    first = asked[0]["items"][0]
    assert first["model"] == "deliveries"
    assert {k: first["features"][k] for k in ("carrier", "weight_kg")} == {
        "carrier": "DHL",
        "weight_kg": 1.2,
    }
    windows = {
        service: page.locator(f".option[data-service={service}] .window")
        for service in ("express", "standard", "economy")
    }
    for window in windows.values():
        # local dates of the delivery window, in the shopper's time zone
        assert len(window.get_attribute("data-start")) == len("2026-01-05")
        assert window.get_attribute("data-start") <= window.get_attribute("data-end")
    # Faster shipping never promises later than slower shipping.
    ends = [windows[s].get_attribute("data-end") for s in ("express", "standard", "economy")]
    assert ends == sorted(ends)
    english = windows["standard"].text_content()
    assert any(day in english for day in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))

    page.select_option("#locale", "de-DE")
    page.wait_for_function(
        "/(Mo|Di|Mi|Do|Fr|Sa|So)\\./.test("
        "document.querySelector('.option[data-service=standard] .window').textContent)"
    )
    assert "€" in page.text_content("#total")
    total = page.text_content("#total")
    page.check(".option[data-service=express] input")
    assert page.text_content("#total") != total  # express costs more

    page.select_option("#locale", "fa-IR")  # right to left, and the engine speaks Persian
    page.wait_for_function(
        "/[\\u0600-\\u06FF]/.test("
        "document.querySelector('.option[data-service=standard] .window').textContent)"
    )
    assert page.get_attribute(".option[data-service=standard]", "dir") == "rtl"


def test_checkout_widget_quotes_a_shops_own_model_by_its_option_feature(
    page: object, base_url: str, keys: tuple, tickets_model: object
) -> None:
    """A shop's model (shipping by 'shipping', countries by 'country') could not be shown: the
    widget asked for the model 'deliveries' and its features by name. The address now says
    which model and features; here the tickets model, one option per priority."""
    asked = []
    page.on(
        "request",
        lambda r: asked.append(r.post_data_json) if r.url.endswith("/v1/quotes/batch") else None,
    )
    page.goto(
        f"{base_url}/checkout?model=tickets&option=priority&to=channel#key={keys[0]['quote']}"
    )
    page.wait_for_selector("#shipping[aria-busy=false]")
    # The cart's currency, not always euros (a Chilean shop's shoppers read "EUR 0,00"); a
    # code the browser does not know is written as it is, the page still working.
    for code, shown in (("clp", "CLP"), ("PESO", "PESO")):
        page.evaluate(f"document.getElementById('cart').dataset.currency = '{code}'")
        page.select_option("#locale", "en-US")
        page.wait_for_function(f"document.getElementById('total').textContent.includes('{shown}')")
        assert "€" not in page.text_content("#total")
    # What the page does not know stays unknown: a tester's shop had its other features pinned
    # to their first values (its slowest carrier for every option, a day too long).
    assert asked and all(
        set(item["features"]) == {"priority", "channel"} for item in asked[0]["items"]
    ), asked
    assert "model=tickets" in page.url and "key=" not in page.url
    shown = page.eval_on_selector_all(".option", "els => els.map(e => e.dataset.service)")
    assert sorted(shown) == sorted(tickets_model.categories_["priority"]), shown
    channels = page.eval_on_selector_all("#region option", "els => els.map(e => e.value)")
    assert channels and page.text_content("#shipping-error") == ""
    for priority in shown:
        window = page.locator(f'.option[data-service="{priority}"] .window')
        assert window.get_attribute("data-start") <= window.get_attribute("data-end")
        # A window of instants is told with its times (a grocery's read "Mon, Dec 7" alone).
        assert re.search(r"\d:\d\d", window.text_content()), window.text_content()
