"""Training jobs: one per (method, style set), content-addressed cache, reuse, registry."""

import json

import pytest
import torch

from stylebench.checkpoint_cache import cache_paths
from stylebench.plan import PlanError, make_plan
from stylebench.suites.load import load_suite
from stylebench.training_jobs import plan_training, prepare_checkpoints, style_arrays
from stylebench.training_task import TrainingSettings, train_job
from tests.conftest import write_tiny_suite
from tests.methods.test_johnson import public_checkpoint

WEIGHTS = {"vgg16": "v16", "vgg19": "v19", "inception_v3": "inc"}
TINY = {"steps": 2, "batch_size": 2, "image_size": 32}
TRAINING = {
    "content": {"generate": "scenes", "count": 3, "first": 50},
    "style": {"generate": "paintings", "count": 2, "first": 1},
}


def suite(tmp_path, methods=None, **extra):
    methods = methods or {
        "johnson": dict(TINY),
        "cin": dict(TINY),
        "ghiasi": {**TINY, "style_size": 80, "steps": 1},
    }
    extra.setdefault("training", TRAINING)
    path = write_tiny_suite(
        tmp_path, methods=methods, style={"generate": "paintings", "count": 2}, **extra
    )
    return load_suite(str(path))


def test_jobs_per_method_and_style_set_with_train_and_heldout_splits(tmp_path):
    plan = make_plan(suite(tmp_path))
    training = plan_training(plan, WEIGHTS)
    labels = sorted(job.label for job in training.jobs.values())
    assert labels == [
        "cin/2 styles",
        "ghiasi/2 training styles",
        "johnson/s-painting_00",
        "johnson/s-painting_01",
    ]
    johnson = {c.style: training.cell_jobs[c.id] for c in plan.cells if c.method == "johnson"}
    assert len(set(johnson.values())) == 2
    assert training.jobs[johnson["s-painting_01"]].styles == ("s-painting_01",)
    splits = {(c.method, c.style): training.splits[c.id] for c in plan.cells}
    assert splits[("ghiasi", "s-painting_00")] == "heldout"
    assert splits[("ghiasi", "s-painting_01")] == "train"  # painting 1 is in training.style
    assert splits[("cin", "s-painting_00")] == splits[("johnson", "s-painting_00")] == "train"
    assert all(
        c.job == training.cell_jobs[c.id]
        for c in training.attach(list(plan.cells))
        if c.method != "gatys"
    )


def test_a_method_that_learns_no_style_trains_once_and_every_cell_is_held_out(tmp_path):
    """wct trains reconstruction decoders on content alone: no style in its job or its key."""
    weights = {**WEIGHTS, "vgg_normalised": "vn"}
    plan = make_plan(suite(tmp_path, {"wct": dict(TINY)}))
    training = plan_training(plan, weights)
    (job,) = training.jobs.values()
    assert job.label == "wct/no styles" and job.styles == job.style_hashes == ()
    assert {training.splits[c.id] for c in plan.cells if c.method == "wct"} == {"heldout"}
    other_styles = {**TRAINING, "style": {"generate": "paintings", "count": 2, "first": 7}}
    again = make_plan(suite(tmp_path / "other", {"wct": dict(TINY)}, training=other_styles))
    assert list(plan_training(again, weights).jobs) == [job.key]
    result = train_job(
        job, TrainingSettings(weights="random", seed=0), style_arrays([job], plan, {})
    )
    assert result.error is None and any(key.startswith("decoder5.") for key in result.state)


def test_key_changes_with_what_decides_the_weights_only(tmp_path):
    def johnson_key(settings, weights=WEIGHTS, **extra):
        plan = make_plan(suite(tmp_path, {"johnson": settings}, **extra))
        return sorted(plan_training(plan, weights).jobs)[0]

    base = johnson_key(dict(TINY))
    assert base == johnson_key(dict(TINY))
    assert base != johnson_key({**TINY, "steps": 3})
    assert base != johnson_key(dict(TINY), {**WEIGHTS, "vgg16": "other"})
    assert base == johnson_key(dict(TINY), {**WEIGHTS, "vgg19": "other"})  # not a johnson network
    assert base != johnson_key(dict(TINY), seed=1)
    assert base == johnson_key({**TINY, "precision": "bfloat16", "channels_last": True})
    other_content = {**TRAINING, "content": {"generate": "scenes", "count": 3, "first": 60}}
    assert base != johnson_key(dict(TINY), training=other_content)
    cin = make_plan(suite(tmp_path, {"cin": dict(TINY)}))
    mixed = make_plan(suite(tmp_path, {"cin": {**TINY, "mix": [0.5, 0.5]}}))
    assert list(plan_training(cin, WEIGHTS).jobs) == list(plan_training(mixed, WEIGHTS).jobs)


def test_trained_method_without_training_split_or_checkpoint_is_a_plan_error(tmp_path):
    plan = make_plan(suite(tmp_path, {"johnson": dict(TINY)}, training=None))
    with pytest.raises(PlanError, match="no training split.*--checkpoint johnson=PATH"):
        plan_training(plan, WEIGHTS)
    missing = make_plan(
        suite(tmp_path, {"johnson": {"checkpoint": str(tmp_path / "nope.pth")}}, training=None)
    )
    with pytest.raises(
        PlanError, match=r"methods\.johnson\.checkpoint: .*nope\.pth does not exist"
    ):
        plan_training(missing, WEIGHTS)


def test_second_identical_preparation_trains_nothing_and_retrain_forces_it(tmp_path):
    plan = make_plan(suite(tmp_path, {"johnson": dict(TINY)}))
    jobs = list(plan_training(plan, WEIGHTS).jobs.values())
    settings = TrainingSettings(weights="random", seed=0)
    styles = style_arrays(jobs, plan, {})
    trained_jobs = []

    def train(todo):
        trained_jobs.extend(job.label for job in todo)
        return [train_job(job, settings, styles) for job in todo]

    def prepare(retrain=False):
        return prepare_checkpoints(jobs, settings, styles, retrain, train, {"suite": "tiny"})

    first = prepare()
    assert sorted(trained_jobs) == ["johnson/s-painting_00", "johnson/s-painting_01"]
    assert {e["source"] for e in first.entries.values()} == {"trained"}
    entry = next(iter(first.entries.values()))
    assert entry["seconds"] > 0 and entry["device_seconds"] >= entry["seconds"]
    assert len(entry["curves"]["total"]) == 2 and entry["suite"] == "tiny"
    state_path, meta_path = cache_paths(jobs[0])
    assert state_path.is_file() and json.loads(meta_path.read_text())["key"] == jobs[0].key

    second = prepare()
    assert len(trained_jobs) == 2  # nothing trained again
    assert {e["source"] for e in second.entries.values()} == {"cache"}
    for key, state in first.states.items():
        assert all(torch.equal(state[k], second.states[key][k]) for k in state)
    assert second.entries[jobs[0].key]["seconds"] == first.entries[jobs[0].key]["seconds"]

    prepare(retrain=True)
    assert len(trained_jobs) == 4

    torch.save({"garbage": torch.zeros(1)}, state_path)  # a damaged cache entry is retrained
    prepare()
    assert len(trained_jobs) == 5


def test_failed_training_is_reported_not_raised(tmp_path):
    plan = make_plan(suite(tmp_path, {"johnson": {**TINY, "lr": 1e30}}))
    jobs = list(plan_training(plan, WEIGHTS).jobs.values())
    settings = TrainingSettings(weights="random", seed=0)
    styles = style_arrays(jobs, plan, {})
    prepared = prepare_checkpoints(
        jobs,
        settings,
        styles,
        False,
        lambda todo: [train_job(job, settings, styles) for job in todo],
        {},
    )
    assert prepared.error(jobs[0].key).startswith("DivergenceError")
    assert prepared.states == {} and not cache_paths(jobs[0])[0].exists()


def test_checkpoint_file_is_loaded_once_on_the_driver(tmp_path):
    torch.save(public_checkpoint(), tmp_path / "candy.pth")
    plan = make_plan(
        suite(tmp_path, {"johnson": {"checkpoint": str(tmp_path / "candy.pth")}}, training=None)
    )
    training = plan_training(plan, WEIGHTS)
    (job,) = training.jobs.values()
    assert set(training.cell_jobs.values()) == {job.key} and set(training.splits.values()) == {None}
    prepared = prepare_checkpoints(
        [job], TrainingSettings(weights="random", seed=0), {}, False, lambda todo: [], {}
    )
    state = prepared.states[job.key]
    assert prepared.entries[job.key]["source"] == "file"
    assert not any("running" in key for key in state)  # legacy keys dropped, rest strict
