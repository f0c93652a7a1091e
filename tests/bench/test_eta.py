"""The ETA prices the plan's own costs (loss evaluations, training steps) at measured rates."""

import pytest

from stylebench.eta import CostModel


def test_nothing_measured_means_no_eta_yet():
    model = CostModel({"a": ("gatys", 100), "b": ("gatys", 100)})
    assert model.seconds_left() is None


def test_a_job_under_way_prices_its_remaining_steps_at_its_own_rate():
    model = CostModel({"job": ("johnson", 1000)})
    model.measured("job", done_units=100, seconds=20.0)  # 0.2 s per step
    assert model.seconds_left() == pytest.approx(900 * 0.2)


def test_each_kind_is_priced_by_its_own_finished_work_spread_over_the_workers():
    # 4 gatys cells of 500 loss evaluations, 4 feed-forward cells of 1 unit, 2 workers.
    items = {f"g{i}": ("gatys", 500) for i in range(4)} | {
        f"j{i}": ("johnson", 1) for i in range(4)
    }
    model = CostModel(items, workers=2)
    model.finished("g0", 50.0)  # 0.1 s per evaluation
    model.finished("g1", 70.0)  # 0.14: the kind's rate is 120 s / 1000 evaluations
    model.finished("j0", 0.5)
    left = 2 * 500 * 0.12 + 3 * 0.5
    assert model.seconds_left() == pytest.approx(left / 2)


def test_a_kind_with_nothing_finished_borrows_the_rate_of_all_measured_work():
    model = CostModel({"g": ("gatys", 100), "i": ("improved_gatys", 300)}, workers=4)
    model.finished("g", 10.0)
    # One item left, so the 4 workers do not divide it.
    assert model.seconds_left() == pytest.approx(300 * 0.1)


def test_the_estimate_follows_a_run_that_slows_down():
    model = CostModel({f"c{i}": ("gatys", 100) for i in range(10)})
    model.finished("c0", 10.0)
    first = model.seconds_left()
    for i in range(1, 5):
        model.finished(f"c{i}", 30.0)  # the machine got loaded
    assert first == pytest.approx(9 * 10.0)
    assert model.seconds_left() == pytest.approx(5 * 100 * (130 / 500))


def test_a_failed_unmeasured_item_prices_nothing_and_leaves_nothing_to_do():
    model = CostModel({"a": ("gatys", 100), "b": ("gatys", 100)})
    model.finished("a", None)
    assert model.seconds_left() is None
    model.finished("b", 5.0)
    assert model.seconds_left() == 0.0
