"""Domain methods (CycleGAN) in the harness: one cell per content image, one training job on the
style domain read from files, resuming an interrupted training, scoring against the style set."""

import pytest
import torch

from stylebench.checkpoint_cache import PartialCheckpoint, cache_paths
from stylebench.images import load_image, to_uint8
from stylebench.methods.core.cyclegan_nets import ResnetGenerator
from stylebench.metrics.base import StyleDomain
from stylebench.metrics.feature_losses import ContentLoss, StyleLoss
from stylebench.plan import DOMAIN_STYLE, make_plan
from stylebench.suites.load import load_suite
from stylebench.training_jobs import plan_training, prepare_checkpoints, style_arrays
from stylebench.training_task import TrainingSettings, train_job
from stylebench.worker import CellRunner, WorkerSettings
from tests.conftest import write_tiny_suite
from tests.methods.test_cyclegan import reference_checkpoint, reference_generator_layout

WEIGHTS = {"vgg16": "v16", "vgg19": "v19"}
CYCLEGAN = {"steps": 4, "image_size": 32, "ngf": 4, "n_blocks": 1, "ndf": 4, "pool_size": 2}
TRAINING = {
    "content": {"generate": "scenes", "count": 3, "first": 50},
    "style": {"generate": "paintings", "count": 2, "first": 1},
}


def suite(tmp_path, cyclegan=None, **extra):
    extra.setdefault("training", TRAINING)
    path = write_tiny_suite(
        tmp_path,
        methods={"gatys": {"steps": 1}, "cyclegan": cyclegan or dict(CYCLEGAN)},
        style={"generate": "paintings", "count": 3},
        **extra,
    )
    return load_suite(str(path))


def test_a_domain_method_gets_one_cell_per_content_image(tmp_path):
    plan = make_plan(suite(tmp_path))
    cyclegan = [c for c in plan.cells if c.method == "cyclegan"]
    assert [(c.content, c.style) for c in cyclegan] == [
        ("c-scene_00", DOMAIN_STYLE),
        ("c-scene_01", DOMAIN_STYLE),
    ]
    assert [c.id for c in cyclegan] == ["cyclegan/c-scene_00/domain", "cyclegan/c-scene_01/domain"]
    assert len({c.seed for c in cyclegan}) == 2
    assert len([c for c in plan.cells if c.method == "gatys"]) == 2 * 3  # pairs, as always


def test_one_job_learns_the_training_styles_read_from_their_files(tmp_path):
    loaded = suite(tmp_path)
    plan = make_plan(loaded)
    training = plan_training(plan, WEIGHTS)
    (job,) = training.jobs.values()
    assert job.label == "cyclegan/2 training styles"
    assert job.style_paths == tuple(str(r.path) for r in loaded.training_style)
    assert {training.cell_jobs[c.id] for c in plan.cells if c.method == "cyclegan"} == {job.key}
    assert {training.splits[c.id] for c in plan.cells if c.method == "cyclegan"} == {None}
    assert style_arrays([job], plan, {}) == {}  # nothing loaded on the driver
    untrained = make_plan(suite(tmp_path, training={"content": TRAINING["content"]}))
    (fallback,) = plan_training(untrained, WEIGHTS).jobs.values()
    assert fallback.style_paths == tuple(str(r.path) for r in untrained.suite.style)


def _interrupt_after(monkeypatch, saves: int) -> None:
    original = PartialCheckpoint.save
    count = {"n": 0}

    def save(self, state):
        count["n"] += 1
        if count["n"] > saves:
            raise RuntimeError("worker lost")
        original(self, state)

    monkeypatch.setattr(PartialCheckpoint, "save", save)


def test_an_interrupted_training_job_resumes_from_its_partial_checkpoint(tmp_path, monkeypatch):
    plan = make_plan(suite(tmp_path, {**CYCLEGAN, "steps": 6, "save_every": 2}))
    (job,) = plan_training(plan, WEIGHTS).jobs.values()
    settings = TrainingSettings(weights="random", seed=0)
    partial = PartialCheckpoint(job).path
    assert partial.parent == cache_paths(job)[0].parent and partial.name == f"{job.key}.partial.pt"

    with monkeypatch.context() as patch:
        _interrupt_after(patch, saves=1)  # steps 1-2 saved, lost while saving step 4
        failed = train_job(job, settings, {})
    assert failed.error == "RuntimeError: worker lost" and partial.is_file()
    saved = torch.load(partial, weights_only=True)
    assert saved["step"] == 2 and saved["seconds"] > 0

    resumed = train_job(job, settings, {})
    assert resumed.error is None, resumed.traceback
    assert resumed.resumed_from == 2 and resumed.seconds > saved["seconds"]
    assert not partial.exists()  # removed once training ends
    assert len(resumed.curves["total"]) == 6

    with monkeypatch.context() as patch:  # again, then --retrain: the partial is discarded
        _interrupt_after(patch, saves=1)
        train_job(job, settings, {})
    fresh = train_job(job, TrainingSettings(weights="random", seed=0, resume=False), {})
    assert fresh.resumed_from == 0 and not partial.exists()
    assert fresh.curves == resumed.curves
    for key, value in fresh.state.items():
        assert torch.equal(value, resumed.state[key]), key
    assert {k.split(".")[0] for k in fresh.state} == {"photo_to_style", "style_to_photo"}


def runner(
    tmp_path, with_domain: bool = True, metrics: tuple[str, ...] = ("content_loss", "style_loss")
) -> tuple[CellRunner, list]:
    """A worker for a suite's cyclegan with a trained checkpoint, scoring style and content
    loss, told (or not) which images make the style set; and the plan's cells."""
    plan = make_plan(suite(tmp_path), ["cyclegan"])
    training = plan_training(plan, WEIGHTS)
    (job,) = training.jobs.values()
    trained = train_job(job, TrainingSettings(weights="random", seed=0), {})
    refs = (*plan.suite.content, *plan.suite.style)
    settings = WorkerSettings(
        weights="random",
        seed=0,
        methods={"cyclegan": plan.methods["cyclegan"].model_dump(mode="json")},
        metrics=metrics,
        domain={"cyclegan": tuple(r.key for r in plan.suite.style)} if with_domain else {},
    )
    images = {r.key: to_uint8(load_image(r.path, 32).unsqueeze(0))[0] for r in refs}
    return CellRunner(settings, images, {job.key: trained.state}), training.attach(plan.cells)


def test_a_domain_cell_is_scored_against_the_style_set(tmp_path, metric_context):
    worker, cells = runner(tmp_path)
    result = worker.run(cells[0], [])
    assert result.status == "ok", result.traceback
    assert set(result.scores) == {"content_loss", "style_loss"}
    method, _ = worker._method("cyclegan", cells[0].job, [])
    content = worker.tensor(cells[0].content)
    stylized = method.stylize(content).images
    styles = torch.cat([worker.tensor(key) for key in worker.settings.domain["cyclegan"]])
    expected = StyleLoss(metric_context).score_domain(stylized, content, StyleDomain("s", styles))
    assert result.scores["style_loss"] == pytest.approx(float(expected[0]), rel=1e-5, abs=0)
    assert result.output.shape == (32, 32, 3)


def test_without_a_style_set_only_metrics_that_need_one_fail(tmp_path):
    worker, cells = runner(tmp_path, with_domain=False)
    result = worker.run(cells[0], [])
    assert result.status == "failed" and "style set to score a domain method" in result.error
    worker, cells = runner(tmp_path, with_domain=False, metrics=("content_loss",))
    assert worker.run(cells[0], []).status == "ok"


def test_a_reference_generator_file_loads_on_the_driver_and_stylizes_on_a_worker(tmp_path):
    path = tmp_path / "latest_net_G.pth"
    state = reference_checkpoint(ngf=4, n_blocks=1)  # with old instance-norm statistics
    torch.save(state, path)
    plan = make_plan(suite(tmp_path, {**CYCLEGAN, "checkpoint": str(path)}, training=None))
    training = plan_training(plan, WEIGHTS)
    (job,) = training.jobs.values()
    settings = TrainingSettings(weights="random", seed=0)
    prepared = prepare_checkpoints([job], settings, {}, False, lambda todo: [], {})
    assert prepared.entries[job.key]["source"] == "file"
    shipped = prepared.states[job.key]
    assert set(shipped) == set(reference_generator_layout(ngf=4, n_blocks=1))
    worker = CellRunner(
        WorkerSettings(
            weights="random",
            seed=0,
            methods={"cyclegan": plan.methods["cyclegan"].model_dump(mode="json")},
            metrics=(),
        ),
        {r.key: to_uint8(load_image(r.path, 32).unsqueeze(0))[0] for r in plan.suite.content},
        {job.key: shipped},
    )
    cell = next(c for c in training.attach(plan.cells) if c.method == "cyclegan")
    result = worker.run(cell, [])
    assert result.status == "ok", result.traceback
    generator = ResnetGenerator(ngf=4, n_blocks=1)
    generator.load_state_dict({k: v for k, v in state.items() if k in shipped})
    content = worker.tensor(cell.content)
    with torch.no_grad():
        expected = to_uint8(((generator(content * 2 - 1) + 1) / 2).clamp(0, 1))[0]
    assert (result.output == expected).all()


def test_the_reverse_direction_translates_paintings_scored_against_them_and_the_photos(
    tmp_path, metric_context
):
    """cyclegan_reverse: the reverse set's paintings in (content metrics against the input
    painting), style_loss against the reverse set's photos; the checkpoint is cyclegan's."""
    reverse = {
        "content": {"generate": "paintings", "count": 2, "first": 30},
        "reference": {"generate": "scenes", "count": 3, "first": 60},
    }
    plan = make_plan(suite(tmp_path, reverse=reverse), ["cyclegan"])
    assert list(plan.methods) == ["cyclegan", "cyclegan_reverse"]
    training = plan_training(plan, WEIGHTS)
    (job,) = training.jobs.values()
    trained = train_job(job, TrainingSettings(weights="random", seed=0), {})
    photos = tuple(r.key for r in plan.suite.reverse_reference)
    settings = WorkerSettings(
        weights="random",
        seed=0,
        methods={name: config.model_dump(mode="json") for name, config in plan.methods.items()},
        metrics=("content_loss", "style_loss"),
        domain={"cyclegan_reverse": photos},
    )
    refs = (*plan.suite.reverse_content, *plan.suite.reverse_reference)
    images = {r.key: to_uint8(load_image(r.path, 32).unsqueeze(0))[0] for r in refs}
    worker = CellRunner(settings, images, {job.key: trained.state})
    cell = next(c for c in training.attach(plan.cells) if c.method == "cyclegan_reverse")
    assert cell.content == "rc-painting_30" and cell.job == job.key
    result = worker.run(cell, [])
    assert result.status == "ok", result.traceback
    painting = worker.tensor(cell.content)
    method, _ = worker._method("cyclegan_reverse", job.key, [])
    assert method.config.direction == "style_to_photo"
    with torch.no_grad():
        output = method.generators["style_to_photo"](painting * 2 - 1).add(1).div(2).clamp(0, 1)
    assert (result.output == to_uint8(output)[0]).all()  # F, not G, on the painting
    content = ContentLoss(metric_context).score_domain(output, painting, StyleDomain("x", painting))
    assert result.scores["content_loss"] == pytest.approx(float(content[0]), rel=1e-5)
    styles = torch.cat([worker.tensor(key) for key in photos])
    style = StyleLoss(metric_context).score_domain(output, painting, StyleDomain("p", styles))
    assert result.scores["style_loss"] == pytest.approx(float(style[0]), rel=1e-5)
