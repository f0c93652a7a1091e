"""How far the trained methods' speed settings move quality, over training seeds.

    uv run python -m benchmarks.speed_settings_quality [--seeds 12] [--methods johnson,ghiasi]

For each trained method and seed: train its tiny `smoke`-preset network (32 px, random weights),
stylize two contents with it in float32 and with each speed setting (``precision: bfloat16``,
``channels_last``), and take the relative change of the evaluation content and style losses,
as ``tests/methods/test_trained_contract.py`` does for one seed. Printed: the median and the
largest change over seeds, per method and setting. The contract test's tolerances come from
these spreads (README, Trained methods); run this on another CPU to see whether they hold there.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from benchmarks.common import machine
from stylebench.methods.base import MethodContext, PrepareData, TensorImages, resolve_config
from stylebench.methods.core.encoders import load_encoder
from stylebench.methods.core.weights import WeightsSource
from stylebench.metrics.base import MetricContext
from stylebench.metrics.feature_losses import ContentLoss, StyleLoss
from stylebench.paths import cache_dir
from stylebench.registry import METHODS

SETTINGS = {"bfloat16": {"precision": "bfloat16"}, "channels_last": {"channels_last": True}}


def changes(name: str, seed: int, encoder, metrics) -> dict[str, float]:
    """Largest relative change of each loss per speed setting, for one training seed."""
    cls = METHODS.get(name)
    preset = {"preset": "smoke"}
    context = MethodContext(device=torch.device("cpu"), seed=seed, encoder=encoder)
    generator = torch.Generator().manual_seed(1000 + seed)
    styles = torch.rand(2, 3, 32, 32, generator=generator)
    data = TensorImages(torch.rand(4, 3, 32, 32, generator=generator))
    content = torch.rand(2, 3, 32, 32, generator=generator)
    if cls.needs.train_styles == "each":
        styles = styles[:1]
    method = cls(resolve_config(cls, preset), context)
    if cls.needs.style == "domain":
        method.prepare(PrepareData(styles[:0], training=data, style_domain=TensorImages(styles)))
    else:
        method.prepare(PrepareData(styles=styles, training=data))
    style = styles[[0, -1]]
    base = method.stylize(content, style).images
    found = {}
    for label, settings in SETTINGS.items():
        fast = cls(resolve_config(cls, {**preset, **settings}), context)
        fast.load_state_dict(method.state_dict())
        ours = fast.stylize(content, style).images
        for metric in metrics:
            a, b = metric(ours, content, style), metric(base, content, style)
            found[f"{label} {type(metric).__name__}"] = ((a - b).abs() / b).max().item()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=12)
    trained = [n for n in METHODS.names() if METHODS.get(n).needs.training]
    parser.add_argument("--methods", default=",".join(trained))
    args = parser.parse_args()
    weights = WeightsSource.parse("random", seed=0)
    encoders: dict = {}

    def encoder(arch: str):
        if arch not in encoders:
            encoders[arch] = load_encoder(arch, weights)
        return encoders[arch]

    metric_context = MetricContext(
        device=torch.device("cpu"), weights=weights, encoder=encoder, cache=cache_dir()
    )
    metrics = [ContentLoss(metric_context), StyleLoss(metric_context)]
    print(f"machine: {machine(torch.device('cpu'))}; {args.seeds} training seeds")
    for name in args.methods.split(","):
        runs = [changes(name, seed, encoder, metrics) for seed in range(args.seeds)]
        for key in runs[0]:
            values = [run[key] for run in runs]
            print(
                f"{name} {key}: median {statistics.median(values):.2%}, largest {max(values):.2%}"
            )


if __name__ == "__main__":
    main()
