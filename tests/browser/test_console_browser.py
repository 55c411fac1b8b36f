"""The console in a real browser: the Customer Care loop done through it alone, then checked through
the API; a refused action showing the sandbox's explanation; the journal showing a call made
meanwhile by another client. Screenshots go to $DSCO_SCREENSHOTS (``make screenshots``: docs/).

The tests of this module share one server and one browser and run in order, as one story.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from serve_support import Served

RETAILER, SUPPLIER = "1000001", "2000001"
LEGACY = {RETAILER: "retailer-demo-token", SUPPLIER: "supplier-demo-token"}
TITLE = "Where is my parcel?"
PAGES = ("/", "/console/conversations", "/console/accounts", "/console/journal", "/console/settings", "/docs")
pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::ResourceWarning")]


def _by_id(browser: Any, element_id: str) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, element_id)


def _outcome(browser: Any) -> str:
    from selenium.webdriver.common.by import By

    found = browser.find_elements(By.CSS_SELECTOR, "section.outcome")
    assert found, "the page shows no outcome of the action"
    return str(found[0].text)


def _loaded(browser: Any) -> None:
    """Wait until the browser shows a whole console page (its main element, fully loaded)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 15).until(
        lambda b: (
            b.execute_script("return document.readyState") == "complete" and b.find_elements("id", "main")
        )
    )


def _open(browser: Any, url: str) -> None:
    browser.get(url)
    _loaded(browser)


def _submit(browser: Any, element: Any, *keys: str) -> None:
    """Click (or type ``keys`` into) ``element`` and wait for the page its form leads to: a click
    returns before the browser has the new page, and reading the old one would be a race."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    old = browser.find_element("tag name", "html")
    if keys:
        element.send_keys(*keys)
    elif element.tag_name in ("input", "textarea", "select"):
        element.submit()
    else:
        element.click()

    def replaced(_: Any) -> bool:
        # Chromium says an element of a replaced page is stale, or (while the new page is being
        # built) that its node "does not belong to the document": both mean the old page is gone.
        try:
            old.is_enabled()
        except WebDriverException:
            return True
        return False

    WebDriverWait(browser, 15).until(replaced)
    _loaded(browser)


def _api(server: Served, path: str, account: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{server.base_url}/api/v3{path}",
        json=body,
        headers={"Authorization": f"bearer {LEGACY[account]}"},
        timeout=10,
    )


@pytest.fixture(scope="module")
def story() -> dict[str, str]:
    """What one test of the story leaves for the next (the conversation's id)."""
    return {}


def test_the_customer_care_loop_through_the_console_alone(
    server: Served, browser: Any, screenshots: Path, story: dict[str, str]
) -> None:
    from selenium.webdriver.support.ui import Select

    # The retailer opens a customer-care conversation for a consumer, about an order.
    _open(browser, f"{server.base_url}/console/conversations?as={RETAILER}")
    assert "Conversations as" in browser.title
    _by_id(browser, "new-title").send_keys(TITLE)
    Select(_by_id(browser, "new-partner")).select_by_value("aaa-bbb-ccc")
    Select(_by_id(browser, "new-kind")).select_by_value("customer_care")
    _by_id(browser, "new-consumer").send_keys("consumer-42")
    _by_id(browser, "new-order").send_keys("123-456-789")
    _by_id(browser, "new-reference").send_keys("CASE-1")
    _by_id(browser, "new-message").send_keys("The consumer asks where the parcel is.")
    _submit(browser, _by_id(browser, "new-message"))
    assert "Done: create as" in _outcome(browser)
    conversation_id = _by_id(browser, "conversation-id").text
    story["id"] = conversation_id

    # The supplier answers from the thread, then closes the conversation.
    _by_id(browser, "reply-supplier").send_keys("It ships today; tracking follows.")
    _submit(browser, _by_id(browser, "send-supplier"))
    assert "Done: reply as" in _outcome(browser)
    assert "response_to_consumer" in browser.page_source
    browser.save_screenshot(str(screenshots / "console-thread.png"))
    _submit(browser, _by_id(browser, "close-supplier"))
    assert "Done: status as" in _outcome(browser)
    assert _by_id(browser, "reopen-supplier").is_displayed()

    # Checked through the API: after the post-processing lag (and the 5 s `until` margin) the
    # retailer finds the conversation closed, with the consumer's message and the supplier's answer.
    clock = requests.post(f"{server.base_url}/_sandbox/clock", json={"advance": 10}, timeout=10)
    assert clock.status_code == 200
    listed = _api(server, "/conversation/list", RETAILER, {"statuses": ["closed"]})
    assert listed.status_code == 200, listed.text
    found = [c for c in listed.json()["conversations"] if c["id"] == conversation_id]
    assert found and found[0]["status"] == "closed"
    assert found[0]["retailerReferenceId"] == "CASE-1"
    messages = _api(server, "/conversation/message/list", RETAILER, {"dscoConversationId": conversation_id})
    assert messages.status_code == 200, messages.text
    kinds = [(m["dscoAccountId"], m["type"]["customerCareType"]) for m in messages.json()["messages"]]
    assert kinds == [(RETAILER, "message_from_consumer"), (SUPPLIER, "response_to_consumer")]


def test_a_refused_action_shows_the_sandboxs_explanation(
    server: Served, browser: Any, screenshots: Path, story: dict[str, str]
) -> None:
    _open(browser, f"{server.base_url}/console/conversations/{story['id']}")
    _by_id(browser, "reply-supplier").send_keys("One more thing...")
    _submit(browser, _by_id(browser, "send-supplier"))
    outcome = _outcome(browser)
    assert outcome.startswith("Refused: reply as")
    assert "is closed and takes no messages; reopen it first" in outcome
    assert "curl" in outcome  # the equivalent call is offered, to reproduce it outside the console
    browser.save_screenshot(str(screenshots / "console-refused.png"))


def test_the_journal_shows_a_call_made_meanwhile_by_another_client(
    server: Served, browser: Any, screenshots: Path
) -> None:
    refused = _api(server, "/conversation/list", SUPPLIER, {"statuses": ["archived"]})
    assert refused.status_code == 400
    _open(browser, f"{server.base_url}/console/journal?account={SUPPLIER}&operation=getConversations")
    page = browser.page_source
    assert "getConversations" in page and "POST /api/v3/conversation/list" in page
    first = browser.find_element("css selector", "li.entry.refused")
    assert "400" in first.text and "statuses" in first.text  # the refusal and its first line
    _open(browser, f"{server.base_url}/console/journal")
    marked = browser.find_elements("css selector", "li.entry .badge.console")
    assert len(marked) >= 4  # the console's own actions (create, reply, close, the refused reply)
    browser.save_screenshot(str(screenshots / "console-journal.png"))


def test_every_page_reads_on_a_narrow_window(server: Served, browser: Any, tmp_path: Path) -> None:
    """At phone width nothing needs a sideways scroll of the whole page (tables scroll alone)."""
    browser.set_window_size(390, 800)
    try:
        for path in PAGES:
            _open(browser, f"{server.base_url}{path}")
            width = browser.execute_script("return document.documentElement.scrollWidth")
            inner = browser.execute_script("return window.innerWidth")
            assert width <= inner, f"{path} is {width} px wide in a {inner} px window"
        browser.save_screenshot(str(tmp_path / "narrow.png"))
    finally:
        browser.set_window_size(1280, 800)


def test_the_keyboard_reaches_the_content_and_submits_a_form(server: Served, browser: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    _open(browser, f"{server.base_url}/console/settings")
    browser.find_element("tag name", "body").send_keys(Keys.TAB)
    active = browser.switch_to.active_element
    assert active.text == "Skip to content"
    active.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "main"
    seconds = _by_id(browser, "seconds")
    seconds.clear()
    _submit(browser, seconds, "30", Keys.ENTER)  # Enter in a field submits its form, as with a mouse
    assert "sandbox time" in _outcome(browser)


def test_the_switcher_leads_to_a_namespaces_console_with_its_own_conversations(
    server: Served, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    made = requests.post(f"{server.base_url}/_sandbox/namespaces", json={"name": "team-a"}, timeout=10)
    assert made.status_code == 201, made.text
    try:
        created = requests.post(
            f"{server.base_url}/ns/team-a/api/v3/conversation",
            json={"title": "Only in team-a", "otherPartyTradingPartnerId": "aaa-bbb-ccc"},
            headers={"Authorization": f"bearer {LEGACY[RETAILER]}"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        _open(browser, f"{server.base_url}/console/conversations?as={RETAILER}")
        assert TITLE in browser.page_source
        browser.find_element(By.CSS_SELECTOR, ".sandboxes summary").click()
        _submit(browser, browser.find_element(By.LINK_TEXT, "team-a"))
        assert browser.current_url == f"{server.base_url}/ns/team-a/console/conversations"
        assert _by_id(browser, "current-sandbox").text == "team-a"
        assert "Only in team-a" in browser.page_source and TITLE not in browser.page_source
        browser.set_window_size(390, 800)  # the open menu fits a narrow window too
        try:
            browser.find_element(By.CSS_SELECTOR, ".sandboxes summary").click()
            width = browser.execute_script("return document.documentElement.scrollWidth")
            assert width <= browser.execute_script("return window.innerWidth")
            _submit(browser, browser.find_element(By.LINK_TEXT, "(default)"))
        finally:
            browser.set_window_size(1280, 800)
        assert TITLE in browser.page_source and "Only in team-a" not in browser.page_source
    finally:
        requests.delete(f"{server.base_url}/_sandbox/namespaces/team-a", timeout=10)
