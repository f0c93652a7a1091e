"""Scores on styles a method was trained on vs styles it never saw, from the record alone."""

import pytest

from stylebench.reports.tables import split_scores

METRICS = {
    "style_loss": {"per": "image", "higher_is_better": False},
    "prepare_time": {"per": "method", "higher_is_better": False},
}


def cell(method, split, value, status="ok"):
    return {
        "method": method,
        "style_split": split,
        "status": status,
        "scores": {"style_loss": value},
    }


def test_split_means_only_for_methods_with_held_out_cells():
    record = {
        "metrics": METRICS,
        "cells": [
            cell("ghiasi", "train", 1.0),
            cell("ghiasi", "train", 3.0),
            cell("ghiasi", "heldout", 10.0),
            cell("ghiasi", "heldout", 99.0, status="failed"),
            cell("cin", "train", 5.0),
            cell("gatys", None, 7.0),
        ],
    }
    table = split_scores(record)
    assert list(table.index) == [("ghiasi", "heldout"), ("ghiasi", "train")]
    assert table.at[("ghiasi", "train"), "style_loss"] == pytest.approx(2.0)
    assert table.at[("ghiasi", "heldout"), "style_loss"] == pytest.approx(10.0)
    assert table.at[("ghiasi", "heldout"), "n"] == 1
    assert "prepare_time" not in table


def test_records_without_splits_give_an_empty_table():
    record = {"metrics": METRICS, "cells": [{"method": "gatys", "status": "ok", "scores": {}}]}
    assert split_scores(record).empty
