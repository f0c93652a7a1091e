"""What a run is asked to do, and everything checked before any compute starts.

`bench run` and `bench validate` share `check_inputs`, so what validate passes, run does not
refuse: the suite and its settings, the tracking store, the weights of every network, the
trained methods' training data or checkpoint files. `budgets` says what each method will spend.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from stylebench.errors import BenchError
from stylebench.methods.core.encoders import load_encoder
from stylebench.methods.core.weights import WeightsSource, WeightsUnavailable
from stylebench.metrics.feature_losses import EVALUATION_NETWORK
from stylebench.plan import Plan, budget, is_reverse, make_plan, method_class
from stylebench.registry import METHODS, METRICS
from stylebench.suites.load import load_suite
from stylebench.training_jobs import missing_training_sources


@dataclass
class RunOptions:
    """Everything ``bench run`` was asked to do."""

    suite: str = "smoke"
    methods: list[str] | None = None
    out: Path = Path("bench-out")
    tracking_uri: str | None = None
    ray_address: str | None = None
    weights: str | None = None
    overrides: list[str] = field(default_factory=list)
    workers: int | None = None
    data_dir: Path | None = None
    retrain: bool = False
    #: A nightly's night stamp: part of the run's identity, so each night measures afresh.
    night: str | None = None


def run_key(plan: Plan, commit: str, night: str | None = None) -> str:
    """Identity of a run: its resolved config and the code that computes it, and for a nightly
    its night (the same code must be measured again on a new night: drivers, hardware and
    packages change under it)."""
    stamp = f":{night}" if night else ""
    return hashlib.sha256(f"{plan.config_hash}:{commit}{stamp}".encode()).hexdigest()


def check_weights(plan: Plan) -> tuple[WeightsSource, dict[str, str]]:
    """Fail before any compute if the weights cannot be had (one clear line, no traceback).

    Returns the source and the SHA-256 of every backbone's weights (training jobs key on them).
    """
    identities = {}
    try:
        source = WeightsSource.parse(plan.suite.spec.weights, seed=plan.suite.spec.seed)
        archs = {EVALUATION_NETWORK} | {a for m in plan.methods for a in method_class(m).encoders}
        for arch in sorted(archs):
            identities[arch] = load_encoder(arch, source).identity.sha256
        check_packages(plan)
        if not source.is_random:
            for name in plan.metrics:
                METRICS.get(name).preflight(source)
    except WeightsUnavailable as exc:
        raise BenchError(str(exc)) from None
    return source, identities


def check_packages(plan: Plan) -> None:
    """Fail before any compute if a planned metric needs a package that is not installed (its
    ``packages``: module name -> how to install it), whatever the weights: with random weights
    no preflight would load it, and every cell would fail on a worker instead."""
    for name in plan.metrics:
        for module, install in getattr(METRICS.get(name), "packages", {}).items():
            if importlib.util.find_spec(module) is None:
                raise BenchError(
                    f"metric {name!r} needs the Python package {module!r}, which is not "
                    f"installed: {install}"
                )


def load_plan(options: RunOptions) -> Plan:
    """The suite and plan ``options`` select (``--set``, ``--weights``, ``--methods`` applied)."""
    overrides = [*options.overrides, *([f"weights={options.weights}"] if options.weights else [])]
    suite = load_suite(options.suite, overrides, options.data_dir)
    return make_plan(suite, options.methods)


@dataclass(frozen=True)
class Preflight:
    """What a run would start from: its plan, and (when ``problems`` is empty) the weights and
    the SHA-256 of every backbone's weights."""

    plan: Plan
    weights: WeightsSource | None
    identities: dict[str, str]
    problems: list[str]


def check_inputs(options: RunOptions, tracking_uri: str | None = None) -> Preflight:
    """Everything `bench run` checks before any compute, and `bench validate` with it, so that
    what validate passes run does not refuse: the suite and its settings (raises), the tracking
    store when given (raises), the weights of every network and the trained methods' training
    data or checkpoint files (collected in ``problems``)."""
    plan = load_plan(options)
    if tracking_uri is not None:
        from stylebench.tracking import preflight

        preflight(tracking_uri)
    problems = missing_training_sources(plan)
    try:
        weights, identities = check_weights(plan)
    except BenchError as exc:
        return Preflight(plan, None, {}, [str(exc), *problems])
    return Preflight(plan, weights, identities, problems)


def budgets(plan: Plan, local: bool) -> tuple[list[str], list[str]]:
    """What each method will spend (a line each), and warnings: a trained method at its paper
    budget on a machine without a GPU trains for days (``local``: the run uses this machine)."""
    import torch

    lines = [budget(name, config) for name, config in plan.methods.items()]
    cpu_only = local and not torch.cuda.is_available()
    warnings = [
        f"{name} trains at its paper budget ({config.model_dump().get('steps', '?'):,} steps) "
        "on a machine without a GPU, which takes many hours to days; pass --set "
        f"{name}.preset=smoke for a tiny run, or run on a GPU"
        for name, config in plan.methods.items()
        if cpu_only and not is_reverse(name) and METHODS.get(name).needs.training
        and config.preset == "paper" and not getattr(config, "checkpoint", None)
    ]  # fmt: skip
    return lines, warnings
