"""Per-method work after the cells: set metrics and throughput on a worker (no Ray)."""

from __future__ import annotations

import numpy as np

from stylebench.metrics.fid_features import empty_features
from stylebench.plan import Cell
from stylebench.suites import procedural
from stylebench.worker import (
    CellRunner,
    MethodJob,
    ReferenceSpec,
    ThroughputSpec,
    WorkerSettings,
)


def _images(kind, count: int) -> np.ndarray:
    draw = procedural.scene if kind == "scene" else procedural.painting
    return np.stack([np.asarray(draw(i, size=32), dtype=np.uint8) for i in range(count)])


def test_a_method_job_scores_the_output_set_against_the_reference_set():
    styles = _images("painting", 3)
    images = {f"s-{i}": image for i, image in enumerate(styles)}
    settings = WorkerSettings(
        weights="random", seed=0, methods={}, metrics=("lpips", "fid", "kid", "latency")
    )
    runner = CellRunner(settings, images)
    job = MethodJob(
        method="gatys",
        features=runner.set_scorer().features(_images("scene", 4)),
        image_scores={"lpips": [0.5, 0.4, 0.6, 0.5]},
        reference=ReferenceSpec(
            keys=tuple(images),
            files=tuple((f"{k}.png", f"{i:064x}") for i, k in enumerate(images)),
            preprocess="test",
            image_size=32,
        ),
    )
    result = runner.score_method(job)
    assert result.error is None, result.traceback
    assert set(result.set_scores) == {"fid", "kid"}  # only the set metrics asked for
    fid, kid = result.set_scores["fid"], result.set_scores["kid"]
    assert fid["n"] == 4 and fid["n_reference"] == 3 and fid["value"] > 0 and fid["warnings"]
    assert kid["details"]["subset_size"] == 3 and kid["std"] is not None
    assert result.set_settings["weights"]["random"] is True
    assert any(w["network"] == "inception_v3_fid" for w in result.weights)

    broken = runner.score_method(
        MethodJob("gatys", job.features, {}, ReferenceSpec(("missing",), (), "test", 32))
    )
    assert broken.error and "missing" in broken.error and broken.traceback


def test_a_method_job_measures_batched_throughput():
    images = {"c-0": _images("scene", 1)[0], "c-1": _images("scene", 2)[1]}
    images["s-0"] = _images("painting", 1)[0]
    settings = WorkerSettings(
        weights="random", seed=0, methods={"gatys": {"steps": 2}}, metrics=("throughput",)
    )
    job = MethodJob(
        method="gatys",
        features=empty_features(),
        image_scores={},
        reference=ReferenceSpec((), (), "test", 32),
        throughput=ThroughputSpec(contents=("c-0", "c-1"), style="s-0", styles=("s-0",)),
    )
    result = CellRunner(settings, images).score_method(job)
    assert result.error is None and result.set_scores == {}
    throughput = result.throughput
    assert throughput["batch_size"] == 2 and throughput["value"] > 0
    assert throughput["value"] == 2 / throughput["seconds"]
    assert throughput["runs"] == 1 and throughput["statistic"] == "single run"  # Gatys iterates


def test_a_throughput_only_job_computes_no_set_metrics():
    images = {"c-0": _images("scene", 1)[0], "s-0": _images("painting", 1)[0]}
    settings = WorkerSettings(
        weights="random", seed=0, methods={"gatys": {"steps": 2}}, metrics=("fid", "throughput")
    )
    runner = CellRunner(settings, images)
    job = MethodJob(
        "gatys",
        empty_features(),
        {},
        ReferenceSpec(("s-0",), (("s-0.png", "0" * 64),), "test", 32),
        throughput=ThroughputSpec(("c-0",), "s-0", ("s-0",)),
        set_metrics=False,
    )
    result = runner.score_method(job)
    assert result.error is None and result.set_scores == {}
    assert "set_metrics" not in result.timings and "throughput" in result.timings


def test_a_cell_embeds_its_stored_pixels_for_the_set_metrics():
    """Each cell's Inception features are those of exactly the pixels written to its PNG, so
    set metrics computed from them at the end equal set metrics of the files on disk."""
    images = {"c-0": _images("scene", 1)[0], "s-0": _images("painting", 1)[0]}
    methods = {"gatys": {"steps": 2}}
    cell = Cell("gatys/c-0/s-0", "gatys", "c-0", "s-0", 1)
    with_sets = CellRunner(WorkerSettings("random", 0, methods, ("fid", "lpips")), images)
    result = with_sets.run(cell, ["s-0"])
    assert result.status == "ok", result.traceback
    assert result.features.shape == (2048,) and result.features.dtype == np.float64
    again = with_sets.set_scorer().features(result.output[None])[0]
    np.testing.assert_array_equal(result.features, again)
    plain = CellRunner(WorkerSettings("random", 0, methods, ("lpips",)), images).run(cell, ["s-0"])
    assert plain.status == "ok" and plain.features is None
