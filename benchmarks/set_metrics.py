"""FID and KID throughput: ours against torch-fidelity's own `calculate_metrics`.

    uv run python -m benchmarks.set_metrics [--n 32] [--size 64] [--repeats 2]
        [--weights random|pretrained|PATH] [--device cuda|cpu] [--threads N]

Writes ``--n`` output-like images and ``--n`` reference images (procedural scenes and
paintings, PNG) and scores FID and KID (100 subsets of min(1000, N)) both ways, on the same
files, with the same Inception extractor and weights file:

- ours: what a run does for a method's set metrics, from the same pixels on: workers embed
  each output as its cell finishes (`metrics.sets.SetScorer.features`; here all at once, in
  batches), then one embeds the reference set and scores (`metrics.sets.SetScorer`), with a
  cold reference-statistics cache (a warm cache, as on a second run against the same reference
  set, is printed apart);
- torch-fidelity: ``calculate_metrics(input1=outputs, input2=reference, fid=True, kid=True)``
  with its default batch size and no cache, once as it comes (its data loader starts up to 4
  worker processes) and once with ``save_cpu_ram=True`` (loading in its own process); the ratio
  is against the faster of the two.

Ratio ours / torch-fidelity in seconds, target <= 1.0, median of interleaved repeats (on a GPU
after one untimed call each); the values must agree (printed). The issue's size is ``--n 1000`` (minutes on a GPU, an hour or
more on a 2-core CPU).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch_fidelity

from benchmarks.common import add_runtime_options, machine, median, runtime, spread, verdict
from stylebench.images import open_rgb, write_png
from stylebench.methods.core.weights import WeightsSource
from stylebench.metrics.base import MetricContext
from stylebench.metrics.distances import KID_SUBSETS, kid_subset_size
from stylebench.metrics.reference_stats import ReferenceSet
from stylebench.metrics.runtime import timed
from stylebench.metrics.sets import FID, KID, SetScorer
from stylebench.suites import procedural


def write_images(folder: Path, kind: str, n: int, size: int) -> list[Path]:
    draw = procedural.scene if kind == "scene" else procedural.painting
    folder.mkdir(parents=True)
    paths = []
    for i in range(n):
        path = folder / f"{kind}_{i:05d}.png"
        write_png(np.asarray(draw(i, size=size), dtype=np.uint8), path)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    add_runtime_options(parser)
    args = parser.parse_args()
    # torch-fidelity's data loader asks for more worker processes than a small machine has.
    warnings.filterwarnings("ignore", message=".*worker", category=UserWarning)
    device = runtime(args)
    start = time.perf_counter()
    print(f"set metrics benchmark on {machine(device)}; weights {args.weights}\n")

    with tempfile.TemporaryDirectory(prefix="set-metrics-bench-") as tmp:
        root = Path(tmp)
        outputs = write_images(root / "outputs", "scene", args.n, args.size)
        reference = write_images(root / "reference", "painting", args.n, args.size)
        weights = WeightsSource.parse(args.weights, seed=0)

        def context(cache: Path) -> MetricContext:
            return MetricContext(device=device, weights=weights, encoder=None, cache=cache)

        scorer = SetScorer(context(root / "weights"), set())  # loaded once, as on a worker
        subset = kid_subset_size(args.n, args.n)
        values: dict[str, dict[str, float]] = {}

        def ours(cache: Path) -> None:
            scorer.cache = cache
            images = np.stack([np.asarray(open_rgb(p), dtype=np.uint8) for p in outputs])
            ref = ReferenceSet(
                images=np.stack([np.asarray(open_rgb(p), dtype=np.uint8) for p in reference]),
                files=tuple((p.name, "0" * 64) for p in reference),
                preprocess="benchmark",
                image_size=args.size,
            )
            scores, _ = scorer.score(scorer.features(images), ref, {}, [FID(), KID()], seed=0)
            values["ours"] = {
                "fid": scores["fid"].value,
                "kid": scores["kid"].value,
                "kid_std": scores["kid"].std,
            }

        def fidelity(in_process: bool) -> None:
            result = torch_fidelity.calculate_metrics(
                input1=str(root / "outputs"),
                input2=str(root / "reference"),
                fid=True,
                kid=True,
                feature_extractor="inception-v3-compat",
                feature_extractor_weights_path=str(scorer.features.weights_path),
                kid_subset_size=subset,
                kid_subsets=KID_SUBSETS,
                rng_seed=0,
                cuda=device.type == "cuda",
                cache=False,
                verbose=False,
                save_cpu_ram=in_process,
            )
            values["torch-fidelity"] = {
                "fid": result["frechet_inception_distance"],
                "kid": result["kernel_inception_distance_mean"],
                "kid_std": result["kernel_inception_distance_std"],
            }

        if device.type == "cuda":  # one untimed call each: cuDNN autotuning, allocator
            ours(root / "warm-up")
            fidelity(False)
            fidelity(True)
        seconds: dict[str, list[float]] = {"ours": [], "warm": [], "fidelity": [], "in-process": []}
        for repeat in range(args.repeats):
            cold = root / f"cache-{repeat}"
            seconds["ours"].append(timed(lambda c=cold: ours(c), device)[1])
            seconds["warm"].append(timed(lambda c=cold: ours(c), device)[1])
            seconds["fidelity"].append(timed(lambda: fidelity(False), device)[1])
            seconds["in-process"].append(timed(lambda: fidelity(True), device)[1])

    print(f"FID + KID of {args.n} outputs vs {args.n} reference images ({args.size} px PNG),")
    print(f"KID {KID_SUBSETS} subsets of {subset}, {args.repeats} repeats")
    print(f"{'torch-fidelity, its defaults: s':<46} {spread(seconds['fidelity'])}")
    print(f"{'torch-fidelity, save_cpu_ram (no loader procs)':<46} {spread(seconds['in-process'])}")
    print(f"{'ours, cold reference cache: s':<46} {spread(seconds['ours'])}")
    print(f"{'ours, warm reference cache: s':<46} {spread(seconds['warm'])}")
    # Against torch-fidelity's faster way of the two on this machine.
    best = min(median(seconds["fidelity"]), median(seconds["in-process"]))
    print(verdict("ours (cold cache) / torch-fidelity", median(seconds["ours"]) / best, "<= 1.0"))
    print(f"{'ours (warm cache) / torch-fidelity':<46} {median(seconds['warm']) / best:>10.3f}")
    rate = 2 * args.n / median(seconds["ours"])
    print(f"{'ours: images embedded per second (cold)':<46} {rate:.3g}")
    for name in ("fid", "kid", "kid_std"):
        a, b = values["ours"][name], values["torch-fidelity"][name]
        print(
            f"{'  ' + name + ': ours vs torch-fidelity':<46} {a:.6g} vs {b:.6g} (difference {abs(a - b):.1e})"
        )
    print(f"\n(took {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
