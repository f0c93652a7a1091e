"""Scores on styles a method was trained on vs styles it never saw, from the record alone."""

import pytest

from stylebench.reports.tables import split_scores
from tests.reports.records import synthetic_record, typed


def with_cells(tmp_path, *cells: tuple) -> dict:
    """A record whose cells are ``(method, split, style_loss, status)``."""
    record = synthetic_record(tmp_path, ["a.png"], ["s.png"], {"ghiasi": 0.0, "cin": 0.0})
    record["metrics"]["style_loss"] = {
        "name": "style_loss",
        "higher_is_better": False,
        "per": "image",
    }
    record["metrics"]["prepare_time"] = {
        "name": "prepare_time",
        "higher_is_better": False,
        "per": "method",
    }
    template = record["cells"][0]
    record["cells"] = [
        {**template, "id": f"{method}/{i}", "method": method, "style_split": split,
         "status": status, "scores": {"style_loss": value}}
        for i, (method, split, value, status) in enumerate(cells)
    ]  # fmt: skip
    return record


def test_split_means_only_for_methods_with_held_out_cells(tmp_path):
    record = with_cells(
        tmp_path,
        ("ghiasi", "train", 1.0, "ok"),
        ("ghiasi", "train", 3.0, "ok"),
        ("ghiasi", "heldout", 10.0, "ok"),
        ("ghiasi", "heldout", 99.0, "failed"),
        ("cin", "train", 5.0, "ok"),
        ("gatys", None, 7.0, "ok"),
    )
    table = split_scores(typed(record))
    assert list(table.index) == [("ghiasi", "heldout"), ("ghiasi", "train")]
    assert table.at[("ghiasi", "train"), "style_loss"] == pytest.approx(2.0)
    assert table.at[("ghiasi", "heldout"), "style_loss"] == pytest.approx(10.0)
    assert table.at[("ghiasi", "heldout"), "n"] == 1
    assert "prepare_time" not in table


def test_records_without_splits_give_an_empty_table(tmp_path):
    assert split_scores(typed(with_cells(tmp_path, ("gatys", None, 1.0, "ok")))).empty
