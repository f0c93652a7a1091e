"""Every registered metric declares its direction, granularity and needs, and `bench ls metrics`
shows them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from stylebench.cli import app
from stylebench.metrics.base import ImageMetric, MeasuredMetric
from stylebench.metrics.sets import SetMetric
from stylebench.registry import METRICS

EXPECTED = {
    "content_loss", "style_loss", "lpips", "lpips_vgg", "cfsd", "fid", "kid", "fid_infinity",
    "artfid", "artfid_infinity", "latency", "peak_memory", "throughput", "prepare_time",
}  # fmt: skip


@pytest.mark.parametrize("name", METRICS.builtin_names())
def test_metric_declares_itself(name):
    metric = METRICS.get(name)
    info = metric.info
    assert info.name == name
    assert isinstance(info.higher_is_better, bool)
    assert info.per in ("image", "set", "method")
    assert set(info.needs) <= {"content", "style", "reference"}
    assert all(required in METRICS.names() for required in info.requires)
    kind = {"image": (ImageMetric, MeasuredMetric), "set": SetMetric, "method": MeasuredMetric}
    assert issubclass(metric, kind[info.per])
    assert info.description


def test_all_metrics_of_the_issue_are_registered():
    assert set(METRICS.names()) >= EXPECTED


def test_bench_ls_metrics_lists_direction_and_needs(monkeypatch):
    from stylebench import cli

    monkeypatch.setattr(cli.out, "_width", 250)  # the console was sized when bench.cli loaded
    result = CliRunner().invoke(app, ["ls", "metrics"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    for name in EXPECTED:
        info = METRICS.get(name).info
        assert ("higher" if info.higher_is_better else "lower") in lines[name]
        assert f" {info.per} " in lines[name]
    assert "content, reference" in lines["artfid"] and "reference" in lines["fid"]
