"""The HTML report: self-contained, correct leaderboard, user strings escaped, safe in a browser."""

import numpy as np
from PIL import Image

from stylebench.reports import html as report_html
from tests.browser import visit
from tests.reports.records import synthetic_record, typed


def render_report(record: dict, run_dir, comparison: dict | None = None) -> str:
    """The report of a record built as JSON."""
    return report_html.render_report(typed(record), run_dir, comparison)


def write_report(record: dict, run_dir):
    """Write the report of a record built as JSON."""
    return report_html.write_report(typed(record), run_dir)


HOSTILE = "<img src=x onerror=alert(1)>.png"


def test_leaderboard_marks_the_best_method_in_each_direction(tmp_path):
    record = synthetic_record(tmp_path, ["a.png"], ["b.png"], {"good": 0.1, "bad": 0.9})
    html = render_report(record, tmp_path)
    board = html[html.index('class="leaderboard') :]
    good_row = board[board.index(">good</td>") : board.index("</tr>", board.index(">good</td>"))]
    assert 'class="best">0.1<' in good_row
    assert "(lower is better)" in board and "content_<wbr>loss" in board
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


def with_domain_method(record: dict, run_dir, name: str = "cyclegan") -> dict:
    """``record`` plus a domain method: one cell per content image (style "domain"), scored
    with style_loss against the style set."""
    record["metrics"]["style_loss"] = {
        "name": "style_loss",
        "higher_is_better": False,
        "per": "image",
        "unit": "",
        "description": "s",
        "needs": ["style"],
    }
    record["methods"][name] = {
        **next(iter(record["methods"].values())),
        "needs": {"style": "domain", "training": True},
        "cells_ok": len(record["suite"]["content"]),
    }
    record["evaluation"]["domain"] = {"style_set": "reference", "style_set_images": 7}
    for i, content in enumerate(record["suite"]["content"]):
        output = f"images/{name}/{content['key']}/domain.png"
        Image.fromarray(np.full((16, 16, 3), 200, np.uint8)).save(run_dir / output)
        record["cells"].append(
            {
                **record["cells"][0],
                "id": f"{name}/{content['key']}/domain",
                "method": name,
                "content": content["key"],
                "style": "domain",
                "output": output,
                "scores": {"content_loss": 0.5, "latency": 0.1, "style_loss": 2.0 + i},
            }
        )
    return record


def test_a_domain_method_gets_one_column_with_one_output_per_content(tmp_path):
    record = synthetic_record(tmp_path, ["a.png", "b.png"], ["s.png", "t.png", "u.png"], {"p": 0.2})
    (tmp_path / "images" / "cyclegan" / "c-0").mkdir(parents=True)
    (tmp_path / "images" / "cyclegan" / "c-1").mkdir(parents=True)
    html = render_report(with_domain_method(record, tmp_path), tmp_path)
    grid = html[
        html.index('<table class="grid">') : html.index("</table>", html.index('class="grid"'))
    ]
    assert grid.count("</th>") == 4  # content, style, p, cyclegan
    assert grid.count('<td class="domain" rowspan="3">') == 2  # once per content, over 3 styles
    assert grid.count("photo → style domain: one output per content") == 1  # its header
    assert (
        grid.count("c-0.png → style domain") + grid.count("c-1.png → style domain") == 0
        and grid.count("→ style domain") == 3  # header and the two outputs' alt texts
        and grid.count('title="p (click for the full image)"') == 6
    )
    assert "mean Gram matrices of the 7 images of the style set (reference)" in html
    html = html[html.index('class="leaderboard') :]
    board = html[html.index(">cyclegan</td>") : html.index("</tr>", html.index(">cyclegan</td>"))]
    assert "vs style set" in board and "2.5" in board  # mean of 2.0 and 3.0
    write_report(record, tmp_path)
    with Image.open(tmp_path / "grid.png") as sheet:
        assert sheet.size == (96 * 4, 28 + 96 * 6)
        pixels = sheet.convert("RGB")
        column = 96 * 3 + 48
        assert pixels.getpixel((column, 28 + 48)) == (200, 200, 200)  # a.png's output
        assert pixels.getpixel((column, 28 + 96 + 48)) == (235, 235, 235)  # not repeated
        assert pixels.getpixel((column, 28 + 3 * 96 + 48)) == (200, 200, 200)  # b.png's output


def with_reverse_direction(record: dict, run_dir) -> dict:
    """``record`` with cyclegan both ways: ``cyclegan_reverse`` translates two paintings of the
    suite's reverse set to photos (one cell each, outputs grey 60)."""
    record = with_domain_method(record, run_dir)
    reverse = [
        {"key": f"rc-{i}", "name": f"p{i}.png", "sha256": "0" * 64, "input": f"inputs/rc-{i}.png"}
        for i in range(2)
    ]
    for ref in reverse:
        Image.fromarray(np.full((16, 16, 3), 120, np.uint8)).save(run_dir / ref["input"])
    record["suite"]["reverse_content"] = reverse
    record["methods"]["cyclegan"]["direction"] = "photo_to_style"
    record["methods"]["cyclegan_reverse"] = {
        **record["methods"]["cyclegan"],
        "method": "cyclegan",
        "direction": "style_to_photo",
    }
    for ref in reverse:
        output = f"images/cyclegan_reverse/{ref['key']}/domain.png"
        (run_dir / output).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((16, 16, 3), 60, np.uint8)).save(run_dir / output)
        record["cells"].append(
            {
                **record["cells"][-1],
                "id": f"cyclegan_reverse/{ref['key']}/domain",
                "method": "cyclegan_reverse",
                "content": ref["key"],
                "output": output,
            }
        )
    return record


def test_both_directions_of_a_domain_method_get_a_column_each(tmp_path):
    record = synthetic_record(tmp_path, ["a.png", "b.png"], ["s.png", "t.png", "u.png"], {"p": 0.2})
    for key in ("c-0", "c-1"):
        (tmp_path / "images" / "cyclegan" / key).mkdir(parents=True)
    record = with_reverse_direction(record, tmp_path)
    html = render_report(record, tmp_path)
    grid = html[
        html.index('<table class="grid">') : html.index("</table>", html.index('class="grid"'))
    ]
    assert grid.count("</th>") == 5  # content, style, p, cyclegan, cyclegan_reverse
    assert "cyclegan<span" in grid and "photo → style domain" in grid
    assert "cyclegan_reverse<span" in grid and "style domain → photo: one output" in grid
    # The pairs' rows: cyclegan's outputs, cyclegan_reverse "other direction"; then one row per
    # painting of the reverse set with cyclegan_reverse's output and cyclegan "other direction".
    assert grid.count('alt="cyclegan: a.png → style domain"') == 1
    assert grid.count('alt="cyclegan_reverse: p0.png → photo"') == 1
    assert grid.count('alt="cyclegan_reverse: p1.png → photo"') == 1
    assert grid.count("other direction") == 2 + 2
    assert grid.count("per-pair methods do not run on these inputs") == 2
    assert 'id="reverse-note">cyclegan_reverse: the other way' in html
    write_report(record, tmp_path)
    with Image.open(tmp_path / "grid.png") as sheet:
        assert sheet.size == (96 * 5, 28 + 96 * (6 + 2))
        pixels = sheet.convert("RGB")
        forward, backward = 96 * 3 + 48, 96 * 4 + 48
        assert pixels.getpixel((forward, 28 + 48)) == (200, 200, 200)  # a.png -> Monet
        assert pixels.getpixel((backward, 28 + 48)) == (235, 235, 235)  # not this direction
        painting = 28 + 6 * 96 + 48
        assert pixels.getpixel((48, painting)) == (120, 120, 120)  # the input painting
        assert pixels.getpixel((backward, painting)) == (60, 60, 60)  # p0.png -> photo
        assert pixels.getpixel((forward, painting)) == (235, 235, 235)


def test_domain_column_renders_in_chromium(tmp_path):
    record = synthetic_record(tmp_path, ["a.png", "b.png"], ["s.png", "t.png"], {"p": 0.2})
    for key in ("c-0", "c-1"):
        (tmp_path / "images" / "cyclegan" / key).mkdir(parents=True)
    report = write_report(with_domain_method(record, tmp_path), tmp_path)
    page = visit(
        report.as_uri(),
        """({rows: [...document.querySelectorAll('.grid tbody tr')].map(r => r.cells.length),
             domain: [...document.querySelectorAll('.grid td.domain img')].map(i => i.naturalWidth)})""",
    )
    assert page.console_errors == []
    assert page.facts["rows"] == [4, 3, 4, 3]  # the domain cell spans each content's 2 rows
    assert page.facts["domain"] == [16, 16]


def test_an_eight_method_report_answers_above_the_fold_and_fits_the_page(tmp_path):
    """At 1400x1000: the summary is in the first viewport, the leaderboard of 8 methods and
    every built-in metric needs no horizontal scroll, headers sort, and the CSP holds."""
    from tests.reports.records import wide_record

    report = write_report(wide_record(tmp_path, methods=8, contents=2, styles=2, size=64), tmp_path)
    page = visit(
        report.as_uri(),
        """(() => {
            const board = document.querySelector('.leaderboard');
            const box = board.parentElement;
            const before = [...board.tBodies[0].rows].map(r => r.cells[0].textContent);
            board.querySelector('th[data-sort="1"]').click();
            const values = [...board.tBodies[0].rows].map(r => parseFloat(r.cells[1].dataset.value));
            return {summaryBottom: document.getElementById('summary').getBoundingClientRect().bottom,
                    overflow: box.scrollWidth - box.clientWidth,
                    pageOverflow: document.documentElement.scrollWidth - window.innerWidth,
                    rows: before.length, values,
                    csv: document.getElementById('scores-csv').getAttribute('href'),
                    board: [...board.tHead.rows[1].cells].map(c => c.textContent),
                    protocol: [...document.querySelectorAll('.protocol thead th')]
                        .map(c => c.textContent),
                    protocolNote: document.getElementById('protocol').nextElementSibling.textContent,
                    viewport: !!document.querySelector('meta[name=viewport]')};
        })()""",
        viewport=(1400, 1000),
        screenshot=tmp_path / "shot.png",
    )
    facts = page.facts
    assert page.console_errors == [] and page.dialogs == []  # a CSP violation logs an error
    assert facts["summaryBottom"] <= 1000, facts
    assert facts["overflow"] <= 0 and facts["pageOverflow"] <= 0, facts
    assert facts["rows"] == 8 and facts["values"] == sorted(facts["values"])
    assert facts["csv"] == "scores.csv" and facts["viewport"]
    # A reference protocol's variants are a table of their own, not leaderboard columns.
    assert any(h.startswith("fid_styleid") for h in facts["protocol"])
    assert not any("styleid" in h or "reference" in h for h in facts["board"])
    assert "random weights" in facts["protocolNote"]
    assert (tmp_path / "scores.csv").read_text().count("\n") == 8 * 4 + 1


def test_a_512_px_report_embeds_thumbnails_and_stays_small(tmp_path):
    """50 pairs x 8 methods at 512 px: thumbnails in the page, full PNGs linked."""
    from tests.reports.records import wide_record

    record = wide_record(tmp_path, methods=8, contents=10, styles=5, size=512)
    report = write_report(record, tmp_path)
    size_mb = report.stat().st_size / 2**20
    assert size_mb <= 10, f"{size_mb:.1f} MB"
    html = report.read_text()
    output = record["cells"][0]["output"]
    assert f'href="{output}"' in html and html.count("data:image/jpeg;base64,") == 8 * 50 + 2 * 50


def test_a_comparison_section_opens_with_what_changed(tmp_path):
    import copy

    from stylebench.reports.compare import compare

    base = synthetic_record(tmp_path, ["a.png", "b.png"], ["s.png"], {"gatys": 0.2})
    cand = copy.deepcopy(base)
    base["config"] = {"methods": {"gatys": {"steps": 3}}}
    cand["config"] = {"methods": {"gatys": {"steps": 6}}}
    cand["environment"]["git_commit"] = "<b>def</b>"
    comparison = compare(typed(base), typed(cand), log=["1234567 <i>tune</i> steps"]).as_dict()
    html = render_report(cand, tmp_path, comparison)
    section = html[html.index('id="what-changed"') : html.index('id="comparison-summary"')]
    assert "<code>gatys.steps: 3 -&gt; 6</code>" in section
    assert "commit: abc -&gt; &lt;b&gt;def&lt;/b&gt;" in section
    assert "1234567 &lt;i&gt;tune&lt;/i&gt; steps" in section


def test_a_set_metric_shows_its_bootstrap_interval(tmp_path):
    record = synthetic_record(tmp_path, ["a.png"], ["s.png"], {"gatys": 0.2})
    record["metrics"]["fid"] = {"name": "fid", "higher_is_better": False, "per": "set"}
    record["methods"]["gatys"]["set_scores"] = {
        "fid": {
            "value": 80.0, "n": 12, "n_reference": 50,
            "interval": {
                "low": 65.0, "high": 95.0, "confidence": 0.95, "resamples": 100,
                "bootstrap_mean": 97.5, "seed": 0, "method": "m",
            },
        }
    }  # fmt: skip
    html = render_report(record, tmp_path)
    assert "±15, N=12 vs 50" in html
    assert "95% bootstrap interval [65, 95] over 100 resamples" in html


def with_blend(record: dict, run_dir, method: str) -> dict:
    """``record`` plus a blend of its first two styles (0.7/0.3) that ``method`` ran, one cell per
    content image, scored apart from its style images."""
    style = record["suite"]["style"]
    record["suite"]["blends"] = [
        {
            "key": "b-mix",
            "name": "<b>mix</b>",
            "parts": [
                {"key": style[0]["key"], "name": style[0]["name"], "weight": 0.7},
                {"key": style[1]["key"], "name": style[1]["name"], "weight": 0.3},
            ],
        }
    ]
    record["evaluation"]["blends"] = {"style_metrics": {"style_loss": "vs the weighted Grams"}}
    for i, content in enumerate(record["suite"]["content"]):
        output = f"images/{method}/{content['key']}/b-mix.png"
        (run_dir / output).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((16, 16, 3), 10, np.uint8)).save(run_dir / output)
        record["cells"].append(
            {
                **record["cells"][0],
                "id": f"{method}/{content['key']}/b-mix",
                "method": method,
                "content": content["key"],
                "style": "b-mix",
                "output": output,
                "scores": {"content_loss": 7.0 + i, "latency": 0.5},
            }
        )
    record["methods"][method]["cells_ok"] += len(record["suite"]["content"])
    return record


def test_a_blend_shows_its_parts_and_weights_and_is_kept_out_of_the_leaderboard(tmp_path):
    from stylebench.reports.tables import blend_scores, leaderboard

    record = synthetic_record(
        tmp_path, ["a.png", "b.png"], ["s.png", HOSTILE], {"p": 0.2, "q": 0.4}
    )
    record = with_blend(record, tmp_path, "p")
    typed_record = typed(record)
    board = leaderboard(typed_record)
    assert board.at["p", "n"] == board.at["q", "n"] == 4  # the 2 x 2 pairs, not the blend
    assert board.at["p", "content_loss"] < 0.3  # blend cells (7.0, 8.0) are not in the mean
    blends = blend_scores(typed_record)
    assert list(blends.index) == [("p", "b-mix")] and blends.at[("p", "b-mix"), "n"] == 2
    assert blends.at[("p", "b-mix"), "content_loss"] == 7.5
    html = render_report(record, tmp_path)
    section = html[
        html.index('<h2 id="blends">') : html.index("<h2", html.index('id="blends"') + 5)
    ]
    assert "&lt;b&gt;mix&lt;/b&gt;: 0.7 x s.png + 0.3 x &lt;img" in section and HOSTILE not in html
    assert "<small>0.7 x s.png</small>" in section and "vs the weighted Grams" in section
    assert ">p</td>" in section and section.count('alt="p: &lt;b&gt;mix&lt;/b&gt;"') == 2
    assert "Not run on this blend (they cannot blend styles): q." in section
    write_report(record, tmp_path)
    with Image.open(tmp_path / "grid.png") as sheet:
        assert sheet.size == (96 * 4, 28 + 96 * (4 + 2))  # 4 pairs, then a blend row per content
        pixels = sheet.convert("RGB")
        row = 28 + 4 * 96 + 48
        assert pixels.getpixel((96 * 2 + 48, row)) == (10, 10, 10)  # p's blend output
        assert pixels.getpixel((96 * 3 + 48, row)) == (235, 235, 235)  # q cannot blend
