"""The report page without a browser: structure, escaping, the charts, no external resources."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import attrs
import pytest

from wattbridge.clock import FrozenClock
from wattbridge.errors import Unauthorized
from wattbridge.models.scans import ScanResult
from wattbridge.reports.charts import COLORS, HourCover
from wattbridge.reports.html import ReportView, payback_text, recommendation_text, render_report
from wattbridge.reports.links import LINK_TTL, ReportLinks
from wattbridge_fixtures import FIXTURES, load_fixture

COMPLETED = datetime(2026, 6, 1, 12, 0, 10, tzinfo=UTC)
VOID = {"meta", "br", "img", "input", "link", "hr", "source", "col", "area", "base", "wbr"}


def fixture_result(number: int) -> ScanResult:
    """The result of fixture ``number`` (1-20, the table's numbering)."""
    return load_fixture(FIXTURES[number - 1]).result


def page(result: ScanResult, scan_id: str = "scan_abc", sandbox: bool = True) -> str:
    return render_report(ReportView(scan_id, "cost-savings", COMPLETED, result, sandbox))


@attrs.define
class Outline(HTMLParser):
    """Every element with its attributes; fails on unbalanced tags."""

    elements: list[tuple[str, dict[str, str]]] = attrs.field(factory=list)
    open: list[str] = attrs.field(factory=list)
    text: list[str] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs_: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs_}))
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs_: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs_}))

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, str]]:
        return [
            a for t, a in self.elements
            if t == tag and (cls is None or cls in a.get("class", "").split())
        ]


def outline(html: str) -> Outline:
    parsed = Outline()
    parsed.feed(html)
    parsed.close()
    assert parsed.open == [], f"unclosed: {parsed.open}"
    return parsed


def all_results() -> Iterator[tuple[int, ScanResult]]:
    for number in range(1, len(FIXTURES) + 1):
        yield number, fixture_result(number)


@pytest.mark.parametrize("number", range(1, 21))
def test_every_fixture_renders_a_complete_page(number: int) -> None:
    result = fixture_result(number)
    html = page(result)
    assert html.startswith("<!doctype html>")
    doc = outline(html)
    assert [a["name"] for a in doc.find("meta") if "name" in a] == ["viewport", "referrer"]
    assert len(doc.find("svg", "chart-monthly")) == 1
    has_days = result.typical_days is not None
    assert len(doc.find("svg", "chart-day")) == (2 if has_days else 0)
    assert len(doc.find("svg", "chart-payback")) == (1 if result.financial.investment > 0 else 0)
    for svg in doc.find("svg"):
        assert svg["role"] == "img" and svg["viewbox"].startswith("0 0 ")
    text = " ".join(doc.text)
    assert recommendation_text(result) in text
    for label in ("Yearly savings", "Investment", "Payback", "Self-sufficiency",
                  "Self-consumption", "CO₂ saved"):
        assert label in text


def test_the_page_loads_nothing_from_anywhere() -> None:
    html = page(fixture_result(14))
    doc = outline(html)
    for tag in ("script", "link", "img", "iframe", "object", "embed", "image", "use", "a",
                "form", "base"):
        assert doc.find(tag) == [], tag
    for _, attributes in doc.elements:
        for name, value in attributes.items():
            assert not name.startswith("on"), name
            assert name not in ("src", "href", "xlink:href", "srcset", "action"), name
            assert "url(" not in value and "//" not in value, (name, value)
    for needle in ("http:", "https:", "url(", "@import", "@font-face", "//"):
        assert needle not in html, needle


def test_data_is_escaped() -> None:
    nasty = '<img src=x onerror="alert(1)">&amp;\'</style>'
    result = attrs.evolve(fixture_result(14), metadata={"source": nasty})
    html = render_report(ReportView(nasty, "cost-savings", COMPLETED, result, False))
    assert "<img" not in html and "</style>&" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;amp;&#x27;&lt;/style&gt;" in html
    doc = outline(html)
    assert doc.find("img") == []
    assert nasty in " ".join(doc.text)  # shown as text, exactly


def test_monthly_bars_are_to_scale() -> None:
    result = fixture_result(14)
    doc = outline(page(result))
    heights = {
        cls: [float(a["height"]) for a in doc.find("rect", cls)]
        for cls in ("consumption", "production")
    }
    assert len(heights["consumption"]) == len(heights["production"]) == 12
    # One kWh is the same number of pixels in every bar.
    values = [m.consumption_kwh for m in result.monthly] + [
        m.pv_production_kwh for m in result.monthly
    ]
    pixels = heights["consumption"] + heights["production"]
    per_kwh = max(pixels) / max(values)
    for value, height in zip(values, pixels, strict=True):
        assert height == pytest.approx(value * per_kwh, abs=0.02)
    fills = {a["fill"] for a in doc.find("rect", "consumption")}
    assert fills == {COLORS["consumption"]}


def test_day_charts_cover_the_consumption_every_hour() -> None:
    checked = 0
    for _, result in all_results():
        if result.typical_days is None:
            continue
        for row in (*result.typical_days.summer, *result.typical_days.winter):
            cover = HourCover.of(row)
            assert cover.solar + cover.from_battery + cover.from_grid == pytest.approx(
                row.load_kwh, abs=0.004
            )
            assert min(attrs.astuple(cover)) >= 0
            checked += 1
    assert checked, "no fixture has typical days"


def test_without_typical_days_the_page_says_so() -> None:
    result = attrs.evolve(fixture_result(14), typical_days=None)
    html = page(result)
    assert outline(html).find("svg", "chart-day") == []
    assert "hour-by-hour view is not available" in html


def test_sandbox_reports_say_they_are_examples() -> None:
    assert "Example report." in page(fixture_result(14), sandbox=True)
    assert "Example report." not in page(fixture_result(14), sandbox=False)


def test_recommendation_sentences() -> None:
    assert recommendation_text(fixture_result(1)).startswith("This scan did not size")
    battery_only = recommendation_text(fixture_result(10))
    assert battery_only.startswith("Install a ") and "kWh home battery" in battery_only
    both = fixture_result(14).recommendation
    assert both.new_pv is not None and both.battery is not None
    assert recommendation_text(fixture_result(14)).startswith(
        f"Install {both.new_pv.panel_count} solar panels"
    )


def test_payback_sentences() -> None:
    assert payback_text(0, 0) == "There is nothing to invest, so nothing to pay back."
    assert "does not pay back" in payback_text(2500, 0)
    assert payback_text(5700, 636).startswith("The €5,700 investment is paid back after 9.0 years")
    assert "longer than the 25 years" in payback_text(4400, 130)


# --- link tokens -------------------------------------------------------------------------


@pytest.fixture
def links() -> ReportLinks:
    return ReportLinks(b"s" * 32, FrozenClock(COMPLETED))


def test_a_token_opens_its_own_scan_only(links: ReportLinks) -> None:
    token = links.token("scan_a", "sandbox", "key_abc")
    grant = links.verify(token, "scan_a")
    assert (grant.scan_id, grant.environment, grant.key_id) == ("scan_a", "sandbox", "key_abc")
    assert grant.expires_at == COMPLETED + LINK_TTL
    with pytest.raises(Unauthorized, match="not valid"):
        links.verify(token, "scan_b")


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.replace("sandbox.", "live.", 1),  # another environment
        lambda t: t.replace("key_abc", "key_abd"),  # another key
        lambda t: re.sub(r"\.(\d+)\.", lambda m: f".{int(m[1]) + 3600}.", t),  # longer life
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # another signature
        lambda t: t + "x",
        lambda t: "",
        lambda t: "sk_test_" + "a" * 38,  # an API key is not a token
        lambda t: t * 3,
    ],
)
def test_a_changed_token_is_refused(links: ReportLinks, change: object) -> None:
    token = links.token("scan_a", "sandbox", "key_abc")
    assert callable(change)
    with pytest.raises(Unauthorized, match="not valid"):
        links.verify(change(token), "scan_a")


def test_a_token_expires(links: ReportLinks) -> None:
    token = links.token("scan_a", "live", "key_abc")
    clock = links.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(LINK_TTL - timedelta(seconds=1))
    links.verify(token, "scan_a")
    clock.advance(timedelta(seconds=1))
    with pytest.raises(Unauthorized, match=re.escape("expired at 2026-06-01T13:00:10.000Z")):
        links.verify(token, "scan_a")


def test_another_server_secret_refuses_the_token(links: ReportLinks) -> None:
    token = links.token("scan_a", "sandbox", "key_abc")
    other = ReportLinks(b"t" * 32, links.clock)
    with pytest.raises(Unauthorized):
        other.verify(token, "scan_a")
