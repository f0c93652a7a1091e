"""The HTML report: self-contained, correct leaderboard, user strings escaped, safe in a browser."""

from reports.html import render_report, write_report
from tests.browser import visit
from tests.reports.records import synthetic_record

HOSTILE = "<img src=x onerror=alert(1)>.png"


def test_leaderboard_marks_the_best_method_in_each_direction(tmp_path):
    record = synthetic_record(tmp_path, ["a.png"], ["b.png"], {"good": 0.1, "bad": 0.9})
    html = render_report(record, tmp_path)
    good_row = html[html.index(">good</td>") : html.index("</tr>", html.index(">good</td>"))]
    assert 'class="best">0.1<' in good_row
    assert "↓ lower is better" in html
    assert "RANDOM WEIGHTS" in html
    assert "RANDOM WEIGHTS" not in render_report(
        synthetic_record(tmp_path, ["a.png"], ["b.png"], {"m": 0.1}, random=False), tmp_path
    )


def test_user_strings_are_escaped(tmp_path):
    record = synthetic_record(tmp_path, [HOSTILE], ['"><script>alert(2)</script>'], {"m": 0.1})
    record["suite"]["description"] = "<b>x</b>"
    html = render_report(record, tmp_path)
    assert HOSTILE not in html and "<script>alert(2)" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in html


def test_report_renders_in_chromium_without_running_injected_code(tmp_path):
    record = synthetic_record(tmp_path, [HOSTILE, "b.jpg"], ["s.png"], {"one": 0.2, "two": 0.3})
    report = write_report(record, tmp_path)
    page = visit(
        report.as_uri(),
        """({images: [...document.querySelectorAll('.grid img')].map(i => i.complete && i.naturalWidth),
             injected: document.querySelectorAll('img[src="x"]').length,
             caption: document.querySelector('.grid small').textContent})""",
        screenshot=tmp_path / "shot.png",
    )
    assert page.dialogs == [] and page.console_errors == []
    assert page.facts["injected"] == 0 and page.facts["caption"] == HOSTILE
    assert page.facts["images"] == [16] * 8  # 2 rows x (content, style, two methods)
    assert all(url.startswith(("file:", "data:")) for url in page.requests)
    assert (tmp_path / "grid.png").is_file()
