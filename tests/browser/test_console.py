"""The console in Chromium: log in, trade, halt, backtest, and the states that say what to do.

Each step waits for what the page shows (generous timeouts, no sleeps): fills come as
the node's market moves, about a second after an order, whatever drives it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import PASSWORDS, Tab

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("browser")]

INSTRUMENT = "SYN1"
HALT_REASON = "browser test halt"


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def shot(tab: Tab, folder: Path, name: str, *, full_page: bool = True) -> None:
    path = folder / f"{name}.png"
    tab.page.screenshot(path=str(path), full_page=full_page)
    print(f"screenshot: {path}")


def log_in(tab: Tab, role: str) -> None:
    page = tab.page
    page.goto("/console/#/login")
    page.get_by_label("Username").fill(role)
    page.get_by_label("Password").fill(PASSWORDS[role])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("kpi-equity")).not_to_have_text("\u2013")


def go(tab: Tab, route: str, heading: str) -> None:
    tab.page.goto(f"/console/#/{route}")
    expect(tab.page.get_by_role("heading", level=1)).to_contain_text(heading)


def place_order(tab: Tab, quantity: int) -> Any:
    """Place a market buy on the instrument page; return the result's element."""
    page = tab.page
    go(tab, f"instrument/{INSTRUMENT}", INSTRUMENT)
    page.get_by_label("Quantity").fill(str(quantity))
    page.get_by_role("button", name=f"Buy {INSTRUMENT}").click()
    result = page.get_by_test_id("order-result")
    expect(result).to_have_attribute("data-status", re.compile(r".+"))
    return result


def confirm(tab: Tab, button: str, reason: str) -> None:
    page = tab.page
    page.get_by_role("button", name=button).first.click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label(re.compile("Reason")).fill(reason)
    dialog.get_by_role("button", name=button).click()
    expect(dialog).to_be_hidden()


def test_trade_halt_and_backtest(tab: Tab, screenshots: Path) -> None:
    page = tab.page
    page.goto("/")
    expect(page.get_by_role("heading", name="QuantGrid console")).to_be_visible()
    shot(tab, screenshots, "01-login")

    log_in(tab, "admin")
    equity = page.get_by_test_id("kpi-equity")
    expect(page.get_by_test_id("topbar-trading-state")).to_have_text("ACTIVE")
    shot(tab, screenshots, "02-overview")
    equity_before = equity.inner_text()

    # A market order on the instrument page fills, and shows on the overview.
    result = place_order(tab, 7)
    expect(result).to_have_attribute("data-status", re.compile("ACCEPTED|FILLED|PARTIALLY"))
    order_id = result.get_attribute("data-client-order-id")
    assert order_id
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    shot(tab, screenshots, "03-instrument")
    page.get_by_role("link", name="Overview", exact=True).click()
    expect(page.get_by_test_id("fills-table").locator(f'code[title="{order_id}"]')).to_be_visible()
    expect(equity).not_to_have_text(equity_before)
    shot(tab, screenshots, "04-overview-after-fill")

    # Halted, the next order is refused with the reason.
    go(tab, "risk", "Risk")
    confirm(tab, "Halt trading", HALT_REASON)
    expect(page.get_by_test_id("risk-trading-state")).to_have_text("HALTED")
    expect(page.get_by_test_id("risk-trading-reason")).to_contain_text(HALT_REASON)
    shot(tab, screenshots, "05-risk-halted")
    refused = place_order(tab, 3)
    expect(refused).to_have_attribute("data-status", "REFUSED")
    expect(page.get_by_test_id("order-error")).to_contain_text("HALTED")
    expect(page.get_by_test_id("order-error")).to_contain_text(HALT_REASON)
    shot(tab, screenshots, "06-order-refused")
    go(tab, "risk", "Risk")
    confirm(tab, "Resume trading", "browser test resume")
    expect(page.get_by_test_id("risk-trading-state")).to_have_text("ACTIVE")

    # Nothing so far was refused by the page's policy, nor failed uncaught.
    assert not tab.errors.policy_violations()
    assert not tab.errors.uncaught

    # A small backtest runs to done, and its report opens.
    go(tab, "backtests", "Backtests")
    page.get_by_label("Bars per instrument").fill("1500")
    page.get_by_role("button", name="Run backtest").click()
    launched = page.get_by_test_id("launch-result")
    expect(launched).to_have_attribute("data-job-id", re.compile(r".+"))
    job = launched.get_attribute("data-job-id")
    row = page.get_by_test_id("jobs-table").locator(f'tr[data-key="{job}"]')
    expect(row.get_by_test_id("job-status")).to_have_text("done")
    expect(row.locator("progress")).to_have_attribute("value", "1")
    row.get_by_role("button", name=re.compile("Open the report")).click()
    report = page.frame_locator('[data-testid="report-frame"]')
    expect(report.locator("h1")).to_contain_text("sma_cross")
    # The report's own scripts ran (its charts are drawn) under the page's policy.
    expect(report.locator(".js-plotly-plot").first).to_be_visible()
    shot(tab, screenshots, "07-backtests")
    # Chromium draws the sandboxed frame in the viewport's screenshot, not the page's.
    page.get_by_test_id("report-frame").scroll_into_view_if_needed()
    shot(tab, screenshots, "08-backtest-report", full_page=False)

    go(tab, "ml", "Machine learning")
    expect(page.locator("#models .panel-body")).not_to_contain_text("Loading")
    shot(tab, screenshots, "09-ml")
    go(tab, "health", "Health")
    expect(page.get_by_test_id("health-table").locator("tbody tr")).to_have_count(9)
    shot(tab, screenshots, "10-health")

    assert not tab.errors.uncaught
    assert not tab.errors.policy_violations(scripts_only=True)


def test_the_demo_strategies_paper_trade_and_start_and_stop(tab: Tab, screenshots: Path) -> None:
    page = tab.page
    log_in(tab, "trader")
    strategies = page.get_by_test_id("strategies-table")
    # Both demo strategies run: the ML one once its model is trained and approved.
    expect(strategies.get_by_test_id("strategy-state-demo-regime")).to_have_text("running")
    expect(strategies.get_by_test_id("strategy-state-demo-ml")).to_have_text(
        "running", timeout=90_000
    )
    expect(page.get_by_test_id("replay-status")).to_contain_text("playing")
    # Their own orders fill as the replay plays: a fill of a demo strategy shows.
    fills = page.get_by_test_id("fills-table")
    expect(fills.locator("td", has_text=re.compile(r"^demo-(regime|ml)$")).first).to_be_visible(
        timeout=60_000
    )
    shot(tab, screenshots, "14-overview-strategies")
    # A trader stops a strategy and starts it again, between two bars of the replay.
    strategies.get_by_role("button", name="Stop strategy demo-regime").click()
    expect(strategies.get_by_test_id("strategy-state-demo-regime")).to_have_text("stopped")
    strategies.get_by_role("button", name="Start strategy demo-regime").click()
    expect(strategies.get_by_test_id("strategy-state-demo-regime")).to_have_text("running")
    # The ML strategy's predictions are logged and listed on the ML page.
    go(tab, "ml", "Machine learning")
    expect(page.locator("#predictions")).to_contain_text("demo-direction", timeout=60_000)
    shot(tab, screenshots, "15-ml-predictions")
    assert not tab.errors.uncaught


def test_a_viewer_cannot_halt_resume_or_trade(tab: Tab, screenshots: Path) -> None:
    page = tab.page
    log_in(tab, "viewer")

    go(tab, "risk", "Risk")
    expect(page.get_by_test_id("risk-trading-state")).to_be_visible()
    expect(page.get_by_role("button", name="Halt trading")).to_have_count(0)
    expect(page.get_by_role("button", name="Resume trading")).to_have_count(0)
    expect(page.get_by_text("Halting and resuming needs the admin role")).to_be_visible()
    shot(tab, screenshots, "11-risk-viewer")
    go(tab, f"instrument/{INSTRUMENT}", INSTRUMENT)
    expect(page.get_by_text("Viewing only")).to_be_visible()
    expect(page.get_by_role("button", name=f"Buy {INSTRUMENT}")).to_have_count(0)


def test_a_wrong_password_is_refused_saying_what_to_do(tab: Tab, screenshots: Path) -> None:
    page = tab.page
    page.goto("/console/#/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()

    alert = page.get_by_test_id("login-status").get_by_role("alert")
    expect(alert).to_contain_text("Login refused")
    expect(alert).to_contain_text("Check the username and password")
    expect(page.get_by_label("Password")).to_be_focused()
    shot(tab, screenshots, "12-login-refused")


def test_an_unreachable_api_says_what_to_do(tab: Tab, screenshots: Path) -> None:
    page = tab.page
    log_in(tab, "trader")
    page.route("**/api/**", lambda route: route.abort("connectionrefused"))
    page.route("**/health/dependencies", lambda route: route.abort("connectionrefused"))

    go(tab, "health", "Health")

    alert = page.get_by_role("alert").first
    expect(alert).to_contain_text("Cannot reach the QuantGrid gateway")
    expect(alert).to_contain_text("quantgrid up")
    shot(tab, screenshots, "13-unreachable")


def test_the_console_works_from_the_keyboard(tab: Tab) -> None:
    page = tab.page
    page.goto("/console/#/login")
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type("trader")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORDS["trader"])
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("kpi-equity")).not_to_have_text("\u2013")

    # The skip link comes first, then the brand and the pages' links, each visibly focused.
    page.reload()  # the session stays in the tab; focus starts from the top again
    expect(page.get_by_test_id("kpi-equity")).not_to_have_text("\u2013")
    page.keyboard.press("Tab")
    expect(page.locator("#skip")).to_be_focused()
    reached = []
    for _ in range(8):
        page.keyboard.press("Tab")
        text, outline = page.evaluate(
            "() => [document.activeElement.textContent.trim(),"
            " getComputedStyle(document.activeElement).outlineStyle]"
        )
        assert outline != "none", text
        reached.append(text)
        if text == "Risk":
            break
    assert reached[:4] == ["QuantGrid", "Overview", "Instruments", "Risk"]
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#/risk$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Risk")


def test_numbers_read_as_a_trader_expects(tab: Tab) -> None:
    tab.page.goto("/console/#/login")
    formatted = tab.page.evaluate(
        """async () => {
          const f = await import("/console/static/js/format.js");
          return [
            f.money(1234567.891), f.money(-0.001), f.signed(1234.5), f.signed(-3),
            f.signed(0), f.pct(0.01234, {sign: true}), f.pct(-0.5), f.percentOf(12.345),
            f.qty(-259, {sign: true}), f.qty(1500.25), f.price(96.5), f.count(12345),
            f.utc(1704367620000000000), f.stamp(1704367620000000000), f.money(null),
            f.plural(1, "fill"), f.plural(2, "fill"),
          ];
        }"""
    )

    assert formatted == [
        "1,234,567.89",
        "0.00",
        "+1,234.50",
        "-3.00",
        "0.00",
        "+1.23%",
        "-50.00%",
        "12.35%",
        "-259",
        "1,500.25",
        "96.50",
        "12,345",
        "2024-01-04 11:27:00 UTC",
        "2024-01-04 11:27:00",
        "\u2013",
        "1 fill",
        "2 fills",
    ]


def test_without_a_stream_the_console_polls(tab: Tab) -> None:
    # As through a proxy that cannot stream: every long stream fails before its first
    # snapshot; the console falls back to one snapshot at a time.
    tab.page.route(re.compile(r".*/portfolio/stream\?max_s=300$"), lambda r: r.abort("timedout"))

    log_in(tab, "viewer")

    expect(tab.page.locator("#live")).to_have_text("Polling")
    clock = tab.page.locator("#clock time")
    first = clock.inner_text()
    expect(clock).not_to_have_text(first)  # the node's clock moves on, snapshot by snapshot
