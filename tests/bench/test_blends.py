"""A blend cell on a worker: the method gets the blend's images and weights, and its style
metrics compare with the same weighted targets."""

import pytest

from stylebench.images import load_image, to_uint8
from stylebench.methods.base import StyleBlend
from stylebench.metrics.feature_losses import StyleLoss
from stylebench.plan import make_plan
from stylebench.suites.load import load_suite
from stylebench.worker import CellRunner, WorkerSettings
from tests.conftest import write_tiny_suite


def test_a_blend_cell_stylizes_and_scores_against_the_weighted_targets(tmp_path, metric_context):
    path = write_tiny_suite(
        tmp_path,
        methods={"gatys": {"steps": 2}},
        style={
            "generate": "paintings",
            "count": 2,
            "blends": [{"images": ["painting_00.png", "painting_01.png"], "weights": [3, 1]}],
        },
    )
    plan = make_plan(load_suite(str(path)))
    (blend,) = plan.suite.blends
    cell = next(c for c in plan.cells if c.style == blend.key)
    settings = WorkerSettings(
        weights="random",
        seed=0,
        methods={"gatys": plan.methods["gatys"].model_dump(mode="json")},
        metrics=("style_loss",),
        blends={blend.key: tuple(plan.suite.blend_parts(blend))},
    )
    refs = (*plan.suite.content, *plan.suite.style)
    images = {r.key: to_uint8(load_image(r.path, 32).unsqueeze(0))[0] for r in refs}
    worker = CellRunner(settings, images)
    result = worker.run(cell, [r.key for r in plan.suite.style])
    assert result.status == "ok", result.traceback
    content = worker.tensor(cell.content)
    parts = StyleBlend(tuple(worker.tensor(key) for key in blend.parts), (0.75, 0.25))
    method, _ = worker._method("gatys", None, [])
    stylized = method.stylize_blend(content, parts, seeds=[cell.seed]).images
    assert (result.output == to_uint8(stylized)[0]).all()
    expected = StyleLoss(metric_context).score_blend(stylized, content, parts)
    assert result.scores["style_loss"] == pytest.approx(float(expected[0]), rel=1e-4, abs=0)
