"""The gate, tested statistically on synthetic records whose truth is known by construction.

Two noise regimes, 200 seeded baseline/candidate pairs each, every metric kind present (per image:
content loss, latency, peak memory; per set: FID, KID, an unreliable FID-infinity; per method:
throughput with timed repeats for a feed-forward method, without for an iterative one, prepare
time):

- **quiet**: no history; run-to-run noise below the default thresholds (quality 0.3% per
  image, latency 3% per image plus a 1% machine-load factor, memory 2 MiB, throughput repeats
  0.5%, FID +-0.5, KID +-0.0003);
- **loaded**: a shared machine whose load moves every timing of a run by 15% (more than the
  10% runtime threshold), with 10 earlier nights of the same process as history.

In each regime, noise alone never regresses anything, and a shift of 3 noise sigmas (the standard
deviation of that metric's change over the 200 noise-only pairs) beyond the band the gate applied
to that pair is found for every metric of every pair. The expected rates behind "never": a normal
change passes a band of `Z` = 4 upper-bounded sigmas with probability below 5e-4 (`compare.Z`),
and the quiet regime's thresholds are more than 4 sigmas of its noise; a shift of band + 3 sigma is
missed with probability 0.13% per metric. The tests are seeded, so they are exact, not flaky.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from stylebench.reports import compare as gate
from stylebench.reports.compare import Change
from tests.reports.records import synthetic_record, typed, with_runtime

PAIRS = 200
CONTENTS, STYLES = 8, 2
SET = {"higher_is_better": False, "per": "set", "unit": "", "description": "", "needs": []}
QUIET = {"quality": 0.003, "jitter": 0.03, "load": 0.01, "memory": 2.0, "repeats": 0.005}
LOADED = {**QUIET, "load": 0.15}
#: The metrics each pair compares and whether each must be compared (the rest: not compared).
COMPARED = {
    ("gatys", "content_loss"),
    ("gatys", "latency"),
    ("gatys", "peak_memory"),
    ("gatys", "fid"),
    ("gatys", "kid"),
    ("johnson", "content_loss"),
    ("johnson", "latency"),
    ("johnson", "peak_memory"),
    ("johnson", "throughput"),
    ("johnson", "fid"),
    ("johnson", "kid"),
}


def compare(base: dict, cand: dict, **kwargs) -> gate.Comparison:
    """The gate on two records built as JSON."""
    return gate.compare(typed(base), typed(cand), **kwargs)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One record of the right shape (its images written once); pairs fill in the numbers."""
    folder = tmp_path_factory.mktemp("gate")
    contents = [f"c{i}.png" for i in range(CONTENTS)]
    styles = [f"s{j}.png" for j in range(STYLES)]
    record = with_runtime(
        synthetic_record(folder, contents, styles, {"gatys": 1.0, "johnson": 1.0})
    )
    for name in ("fid", "kid", "fid_infinity"):
        record["metrics"][name] = {"name": name, **SET}
    return record


def night(template: dict, truth: dict, noise: dict, rng: np.random.Generator) -> dict:
    """One run of the synthetic benchmark: the truth plus this run's noise."""
    record = copy.deepcopy(template)
    load = {m: 1 + rng.normal(0, noise["load"]) for m in record["methods"]}
    for i, cell in enumerate(record["cells"]):
        method, base = cell["method"], truth[cell["method"]]
        cell["scores"]["content_loss"] = base["quality"][i % (CONTENTS * STYLES)] * (
            1 + rng.normal(0, noise["quality"])
        )
        jitter = 1 + rng.normal(0, noise["jitter"])
        cell["scores"]["latency"] = base["latency"] * load[method] * jitter
        cell["scores"]["peak_memory"] = 500.0 + rng.normal(0, noise["memory"])
    for method, summary in record["methods"].items():
        base = truth[method]
        summary["prepare_time"] = base["prepare"] * load[method]
        runs = base["batch_s"] * load[method] * (1 + rng.normal(0, noise["repeats"], 5))
        summary["throughput"] = 8 / float(np.median(runs))
        summary["throughput_details"] = {"batch_size": 8, "run_seconds": None}
        if method == "johnson":  # feed-forward: timed 5 times; gatys (iterative) once
            summary["throughput_details"]["run_seconds"] = runs.tolist()
        summary["set_scores"] = {
            "fid": {"value": 100.0 + rng.normal(0, 0.5), "n": 16, "n_reference": 50},
            "kid": {
                "value": 0.02 + rng.normal(0, 0.0003),
                "std": 0.001,
                "n": 16,
                "n_reference": 50,
            },
            "fid_infinity": {
                "value": 80.0 + rng.normal(0, 20),
                "n": 16,
                "n_reference": 50,
                "unreliable": "fitted on 8..16 outputs",
            },
        }
    return record


def truth(rng: np.random.Generator) -> dict:
    return {
        "gatys": {
            "quality": rng.uniform(1, 2, 16),
            "latency": 0.5,
            "prepare": 0.8,
            "batch_s": 4.0,
        },
        "johnson": {
            "quality": rng.uniform(1, 2, 16),
            "latency": 0.02,
            "prepare": 30.0,
            "batch_s": 0.1,
        },
    }


def pairs(template: dict, noise: dict, history_nights: int):
    """``PAIRS`` seeded (baseline, candidate, history) draws of pure noise."""
    for seed in range(PAIRS):
        rng = np.random.default_rng(seed)
        true = truth(rng)
        runs = [night(template, true, noise, rng) for _ in range(history_nights + 2)]
        history = [
            {
                m: {
                    "latency": float(
                        np.mean([c["scores"]["latency"] for c in r["cells"] if c["method"] == m])
                    ),
                    "throughput": r["methods"][m]["throughput"],
                    "prepare_time": r["methods"][m]["prepare_time"],
                }
                for m in r["methods"]
            }
            for r in runs[:-1]
        ]
        yield runs[-2], runs[-1], history if history_nights else []


def worsen(record: dict, change: Change, shift: float) -> None:
    """Move one metric of ``record`` by ``shift`` in its worse direction."""
    step = shift if not change.higher_is_better else -shift
    method, metric = change.method, change.metric
    if change.per == "image":
        for cell in record["cells"]:
            if cell["method"] == method:
                cell["scores"][metric] += step
    elif change.per == "set":
        record["methods"][method]["set_scores"][metric]["value"] += step
    else:
        summary = record["methods"][method]
        if metric == "throughput" and summary["throughput_details"]["run_seconds"]:
            ratio = summary["throughput"] / (summary["throughput"] + step)
            runs = summary["throughput_details"]["run_seconds"]
            summary["throughput_details"]["run_seconds"] = [r * ratio for r in runs]
        summary[metric] += step


@pytest.mark.parametrize(
    ("noise", "history_nights", "compared"),
    [
        (QUIET, 0, COMPARED),
        (
            LOADED,
            10,
            COMPARED
            | {("gatys", "throughput"), ("gatys", "prepare_time"), ("johnson", "prepare_time")},
        ),
    ],
    ids=["quiet", "loaded-with-history"],
)
def test_noise_never_regresses_and_a_shift_beyond_the_band_always_does(
    template, noise, history_nights, compared
):
    draws = list(pairs(template, noise, history_nights))
    results = [compare(base, cand, history=history) for base, cand, history in draws]
    false = [(i, c.method, c.metric) for i, r in enumerate(results) for c in r.regressions]
    assert false == []
    for result in results:
        done = {(c.method, c.metric) for c in result.changes if c.verdict != "not compared"}
        assert done == compared | {("gatys", "failed_cells"), ("johnson", "failed_cells")}
    # Each metric's noise sigma: the spread of its change over the noise-only pairs.
    sigma = {
        key: float(
            np.std(
                [next(c.delta for c in r.changes if (c.method, c.metric) == key) for r in results]
            )
        )
        for key in compared
    }
    missed = []
    for (base, cand, history), result in zip(draws, results, strict=True):
        for change in result.changes:
            key = (change.method, change.metric)
            if key not in compared:
                continue
            shifted = copy.deepcopy(cand)
            # The truth moves by the band the gate applied + 3 sigma; the noise stays on top.
            worsen(shifted, change, change.band + 3 * sigma[key])
            again = compare(base, shifted, history=history)
            if next(c for c in again.changes if (c.method, c.metric) == key).verdict != "regressed":
                missed.append((key, _worse(change) / sigma[key]))
    # A miss is a pair whose own noise cancelled the 3 sigma (0.13% of a normal's draws): no
    # other is allowed.
    assert len(missed) <= 0.005 * len(draws) * len(compared)
    assert all(noise < -2.9 for _, noise in missed), missed


def _worse(change: Change) -> float:
    """How far noise alone moved the candidate in the metric's worse direction."""
    assert change.delta is not None
    return change.delta if not change.higher_is_better else -change.delta
