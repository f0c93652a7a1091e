"""What the harness costs around the compute: overhead, scaling with workers, resume.

    uv run python -m benchmarks.harness [--measure overhead,scaling,resume] [--repeats 1]
        [--contents 10] [--styles 5] [--size 64] [--steps 40] [--workers 2]

Writes a fixed procedural suite (``--contents`` scenes x ``--styles`` paintings, random weights,
``gatys`` paper preset with ``--steps`` L-BFGS steps, every metric) and runs it the way
``bench run`` does, through `bench.driver.run_benchmark`, into fresh folders. Its default shape
is the ``monet`` suite's, 10 photos x 5 paintings: the method's throughput batch (8 contents,
the whole optimisation again) is then one piece of work beside 50 cells, as in a real run; with
fewer cells it is a large share of the compute that no second worker can split.

- overhead: wall time of a run with 1 worker over the method and metric compute inside it
  (``compute_seconds.compute`` of its record: prepare, stylize, throughput and scoring, timed on
  the worker). Target <= 1.15. Ray is started before each run and timed apart (the run joins
  it); the MLflow store is created once, untimed, as it is once per output folder.
- resume: wall time of running the same config into the finished folder again, over the first
  run's. Target <= 0.05, and nothing may be computed: Ray is never started, and no journal gets a
  line.
- scaling: wall time of 1 worker on 1 core over wall time of ``--workers`` workers on as many
  cores (each with one torch thread; Ray started apart for both, the 1-core instance with
  ``num_cpus=1``). Target >= 1.7 with 2 workers on 2 cores. Also printed: the overhead run (1
  worker given every core as torch threads) over the ``--workers`` run, what a user gains by
  running workers instead of threads. Printed beside it: the hardware's own ceiling for
  ``--workers`` processes (`benchmarks.hardware.parallel_ceiling`, measured just before the
  runs of each repeat), since virtual cores that share a physical one, or a busy host, cap the
  ratio far below ``--workers`` whatever the harness does.

Each repeat runs 1 worker, the resume, 1 worker on 1 core, then ``--workers`` workers
(interleaved, so that load that drifts hits all alike); ratios are of the medians. Each run gets its own Ray instance and
its own cache folder, so no run finds another's reference statistics. Real sizes: e.g.
``--contents 10 --styles 5 --size 256 --steps 500``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

import stylebench.driver
import stylebench.execute
import stylebench.preflight
import stylebench.reports.html
import stylebench.tracking
from benchmarks.common import machine, median, pick_device, spread, verdict
from benchmarks.hardware import parallel_ceiling
from stylebench.driver import run_benchmark
from stylebench.preflight import RunOptions


class Phases:
    """Seconds spent in chosen functions of the driver, by label (wrapped in place)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start
                self.calls[label] += 1

        setattr(owner, name, timed)

    def take(self) -> dict[str, float]:
        taken = dict(self.seconds)
        self.seconds.clear()
        self.calls.clear()
        return taken


def write_suite(folder: Path, args: argparse.Namespace) -> Path:
    suite = {
        "name": "harness-bench",
        "version": 1,
        "description": "benchmarks/harness.py: a fixed procedural suite",
        "image_size": args.size,
        "seed": 0,
        "weights": "random",
        "content": {"generate": "scenes", "count": args.contents},
        "style": {"generate": "paintings", "count": args.styles},
        "methods": {"gatys": {"preset": "paper", "steps": args.steps}},
    }
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def start_ray(cache: Path, cpus: int | None) -> float:
    """A fresh local Ray instance whose workers use ``cache``, with ``cpus`` cores (all when
    None); returns its start-up seconds. The run joins it, as it joins any running instance."""
    import ray  # imported after bench.execute, which sets how Ray starts workers

    os.environ["STYLEBENCH_CACHE"] = str(cache)
    start = time.perf_counter()
    if cpus is None:
        stylebench.execute.connect(None)
    else:
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, logging_level="WARNING")
    return time.perf_counter() - start


def lines(run_dir: Path) -> dict[str, int]:
    """Lines in each journal of a run folder (a resume that computes nothing adds none)."""
    return {
        name: len((run_dir / name).read_text().splitlines())
        for name in ("journal.jsonl", "methods.jsonl", "training.jsonl")
        if (run_dir / name).is_file()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--measure", default="overhead,scaling,resume")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--contents", type=int, default=10)
    parser.add_argument("--styles", type=int, default=5)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep the run folders here (default: deleted)")
    args = parser.parse_args()
    measure = set(args.measure.split(","))
    unknown = measure - {"overhead", "scaling", "resume"}
    if unknown:
        parser.error(f"unknown --measure {sorted(unknown)}; use overhead, scaling, resume")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")

    phases = Phases()
    phases.wrap(stylebench.preflight, "check_weights", "weights check (driver)")
    phases.wrap(stylebench.driver, "_load_inputs", "inputs (driver)")
    phases.wrap(stylebench.driver, "run_cells", "cells and method jobs (Ray)")
    for name in ("start", "monitor_system", "log_cell", "finish"):
        phases.wrap(stylebench.tracking.Tracker, name, "MLflow")
    phases.wrap(stylebench.reports.html, "write_report", "report")
    connects = {"n": 0}
    original_connect = stylebench.execute.connect

    def counted_connect(*args: Any, **kwargs: Any) -> bool:
        connects["n"] += 1
        return original_connect(*args, **kwargs)

    stylebench.execute.connect = counted_connect

    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        suite = write_suite(root, args)
        tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
        from mlflow.tracking import MlflowClient

        start = time.perf_counter()
        MlflowClient(tracking_uri).search_experiments()
        mlflow_store = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import stylebench.execute"], check=True)
        worker_imports = time.perf_counter() - start

        def run(
            out: Path, workers: int, ray_cache: Path | None, cpus: int | None = None
        ) -> tuple[float, dict, dict]:
            """One timed run; Ray started first (timed apart) unless ``ray_cache`` is None."""
            ray_seconds = start_ray(ray_cache, cpus) if ray_cache is not None else None
            phases.take()
            options = RunOptions(
                suite=str(suite), out=out, tracking_uri=tracking_uri, workers=workers
            )
            start = time.perf_counter()
            outcome = run_benchmark(options)
            wall = time.perf_counter() - start
            import ray  # see start_ray

            ray.shutdown()  # the instance start_ray started (a no-op when there is none)
            if outcome.failed:
                raise SystemExit(f"{outcome.failed} cells failed in {outcome.run_dir}")
            facts = {"ray": ray_seconds, "phases": phases.take(), "run_dir": outcome.run_dir}
            return wall, outcome.record.compute_seconds.model_dump(), facts

        results: dict[str, list] = defaultdict(list)
        for repeat in range(args.repeats):
            first = root / f"r{repeat}-1worker"
            wall, compute, facts = run(first, 1, root / f"r{repeat}-cache-1")
            results["one"].append((wall, compute, facts))
            if "resume" in measure:
                before, connects["n"] = lines(facts["run_dir"]), 0
                resume_wall, _, resume_facts = run(first, 1, None)
                computed = connects["n"] > 0 or lines(facts["run_dir"]) != before
                results["resume"].append((resume_wall, computed, resume_facts))
            if "scaling" in measure:
                results["ceiling"].append(parallel_ceiling(args.workers, repeats=1))
                single = root / f"r{repeat}-1core"
                results["single"].append(run(single, 1, root / f"r{repeat}-cache-s", cpus=1))
                many = root / f"r{repeat}-{args.workers}workers"
                results["many"].append(run(many, args.workers, root / f"r{repeat}-cache-n"))

        print_results(args, measure, results, {"store": mlflow_store, "imports": worker_imports})


def print_results(
    args: argparse.Namespace, measure: set[str], results: dict[str, list], once: dict[str, float]
) -> None:
    walls = [wall for wall, _, _ in results["one"]]
    computes = [compute["compute"] for _, compute, _ in results["one"]]
    print(
        f"harness benchmark on {machine(pick_device('cpu'))}\n"
        f"suite: {args.contents} scenes x {args.styles} paintings at {args.size} px, gatys "
        f"{args.steps} L-BFGS steps, every metric, random weights; {args.repeats} repeat(s), "
        "medians\n"
    )
    ray_starts = [f["ray"] for key in ("one", "single", "many") for _, _, f in results[key]]
    print(f"{'Ray start-up (apart, not in any ratio)':<46} {spread(ray_starts)} s")
    print(f"{'MLflow store creation (once per folder, apart)':<46} {once['store']:.3g} s")
    print(f"{'a worker process importing its code (once)':<46} {once['imports']:.3g} s")
    print(f"{'run with 1 worker: wall':<46} {spread(walls)} s")
    print(f"{'  method + metric compute (workers)':<46} {spread(computes)} s")
    for key in ("stylize", "throughput", "score", "prepare", "setup"):
        values = [compute[key] for _, compute, _ in results["one"]]
        label = f"    {key}" if key != "setup" else "  loading networks on workers (not compute)"
        print(f"{label:<46} {spread(values)} s")
    phase_names = sorted({name for _, _, f in results["one"] for name in f["phases"]})
    for name in phase_names:
        values = [f["phases"].get(name, 0.0) for _, _, f in results["one"]]
        print(f"{'  driver: ' + name:<46} {spread(values)} s")
    cells = "cells and method jobs (Ray)"
    waiting = [
        f["phases"].get(cells, 0.0) - compute["compute"] - compute["setup"]
        for _, compute, f in results["one"]
    ]
    print(f"{'    of which worker start-up and waiting':<46} {spread(waiting)} s")
    fixed = median(walls) - median(computes)
    print(
        f"{'fixed cost around the compute (wall - compute)':<46} {fixed:.3g} s: wall / compute "
        f"<= 1.15 once a run computes >= {fixed / 0.15:.0f} s"
    )
    print()
    if "overhead" in measure:
        print(
            verdict(
                "overhead: wall / compute (1 worker)", median(walls) / median(computes), "<= 1.15"
            )
        )
    if "resume" in measure:
        resumes = [wall for wall, _, _ in results["resume"]]
        computed = any(c for _, c, _ in results["resume"])
        print(
            verdict(
                "resume: rerun of a finished run / first run",
                median(resumes) / median(walls),
                "<= 0.05",
            )
        )
        print(
            f"{'  resume wall':<46} {spread(resumes)} s; "
            + (
                "COMPUTED SOMETHING (Ray started or a journal grew)"
                if computed
                else "no compute: Ray never started, journals unchanged"
            )
        )
    if "scaling" in measure:
        many = [wall for wall, _, _ in results["many"]]
        single = [wall for wall, _, _ in results["single"]]
        single_compute = [compute["compute"] for _, compute, _ in results["single"]]
        print(
            verdict(
                f"scaling: wall 1 worker on 1 core / {args.workers} workers on {args.workers}",
                median(single) / median(many),
                ">= 1.7",
            )
        )
        ceiling = median(results["ceiling"])
        print(
            f"{'  the hardware ceiling (benchmarks/hardware.py)':<46} {spread(results['ceiling'])}x "
            f"measured before the runs: the harness got {median(single) / median(many) / ceiling:.0%}"
            " of it"
        )
        print(f"{'  wall, 1 worker on 1 core':<46} {spread(single)} s")
        print(f"{'    of which compute':<46} {spread(single_compute)} s")
        print(f"{'  wall, ' + str(args.workers) + ' workers':<46} {spread(many)} s")
        print(
            f"{'  1 worker on every core / ' + str(args.workers) + ' workers':<46} "
            f"{median(walls) / median(many):.3f} (workers instead of torch threads)"
        )


if __name__ == "__main__":
    main()
