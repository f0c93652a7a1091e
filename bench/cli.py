"""The ``bench`` command line: a thin Typer layer over plain typed functions.

Heavy imports (torch, Ray, MLflow) happen inside the commands, so ``bench --help`` is instant.
Errors a user can fix are printed as one clear message with a non-zero exit code, never as a
traceback.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bench.errors import BenchError

app = typer.Typer(
    name="bench",
    help="stylebench: benchmark neural style transfer methods (runs, metrics, MLflow, reports).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

F = TypeVar("F", bound=Callable[..., object])


def user_errors(fn: F) -> F:
    """Turn `BenchError` into ``error: ...`` and its exit code; Ctrl-C into exit 130."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return fn(*args, **kwargs)
        except BenchError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print(
                "[yellow]interrupted[/]: finished cells are kept; run the same command to resume"
            )
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _split(methods: str | None) -> list[str] | None:
    return [m.strip() for m in methods.split(",") if m.strip()] if methods else None


SuiteArg = Annotated[
    str,
    typer.Option(
        "--suite", "-s", help="Built-in suite name, YAML file, or folder with content/ and style/."
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="Override a suite key: image_size=128, gatys.steps=300 (repeatable)."
    ),
]

CheckpointOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--checkpoint",
        help="METHOD=PATH: use this checkpoint instead of training (same as "
        "--set METHOD.checkpoint=PATH; repeatable).",
    ),
]
RetrainOpt = Annotated[
    bool, typer.Option("--retrain", help="Train again even if a matching checkpoint is cached.")
]


def _checkpoint_overrides(items: list[str] | None) -> list[str]:
    """``--checkpoint METHOD=PATH`` as the ``--set METHOD.checkpoint=ABSOLUTE_PATH`` it means."""
    overrides = []
    for item in items or []:
        method, sep, path = item.partition("=")
        if not sep or not method.strip() or not path.strip():
            raise BenchError(
                f"--checkpoint {item!r}: expected METHOD=PATH, e.g. johnson=mosaic.pth"
            )
        overrides.append(f"{method.strip()}.checkpoint={Path(path).expanduser().resolve()}")
    return overrides


@app.command()
@user_errors
def run(
    suite: SuiteArg = "smoke",
    methods: Annotated[
        str | None, typer.Option(help="Comma-separated methods to run (default: the suite's).")
    ] = None,
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Output folder for runs, reports and the default MLflow store."),
    ] = Path("bench-out"),
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite in --out)."
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster to join (default: $RAY_ADDRESS or a local instance)."),
    ] = None,
    weights: Annotated[
        str | None, typer.Option(help="pretrained | random | PATH (file or folder of checkpoints).")
    ] = None,
    overrides: SetOpt = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Number of workers (default: one per GPU, else per CPU core)."),
    ] = None,
    checkpoints: CheckpointOpt = None,
    retrain: RetrainOpt = False,
) -> None:
    """Run a suite: stylize every (method, content, style) cell, score it, track it, report it.

    Trained methods are trained first (once per method and style set) unless a matching
    checkpoint is cached or given with --checkpoint.
    """
    from bench.runner import RunOptions, run_benchmark

    outcome = run_benchmark(
        RunOptions(
            suite=suite,
            methods=_split(methods),
            out=out_dir,
            tracking_uri=tracking_uri,
            ray_address=ray_address,
            weights=weights,
            overrides=[*(overrides or []), *_checkpoint_overrides(checkpoints)],
            workers=workers,
            retrain=retrain,
        )
    )
    record = outcome.record
    if record["weights"]["random"]:
        out.print(
            "[bold red]RANDOM WEIGHTS[/]: numbers from this run test the pipeline, not quality."
        )
    out.print(
        f"Run:          {outcome.run_dir}  ({len(record['cells'])} cells, {outcome.failed} failed)"
    )
    out.print(f"Report:       {outcome.report}")
    out.print(f"MLflow store: {outcome.tracking_uri}")
    out.print(
        f"MLflow UI:    bench ui --tracking-uri '{outcome.tracking_uri}'  (then open http://127.0.0.1:5000)"
    )
    if outcome.failed:
        err.print(
            f"[bold red]{outcome.failed} cell(s) failed[/]; their errors are in the report and record."
        )
        raise typer.Exit(3)


@app.command()
@user_errors
def train(
    methods: Annotated[str, typer.Argument(help="Trained method(s) to train, comma-separated.")],
    suite: SuiteArg = "smoke",
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder of the default MLflow store.")
    ] = Path("bench-out"),
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite in --out)."
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster to join (default: $RAY_ADDRESS or a local instance)."),
    ] = None,
    weights: Annotated[
        str | None, typer.Option(help="pretrained | random | PATH (file or folder of checkpoints).")
    ] = None,
    overrides: SetOpt = None,
    retrain: RetrainOpt = False,
) -> None:
    """Train a suite's trained methods on its training split; cache and register checkpoints."""
    from bench.runner import RunOptions, train_methods

    outcome = train_methods(
        RunOptions(
            suite=suite,
            methods=_split(methods),
            out=out_dir,
            tracking_uri=tracking_uri,
            ray_address=ray_address,
            weights=weights,
            overrides=overrides or [],
            retrain=retrain,
        )
    )
    for entry in outcome.entries:
        if entry["source"] == "failed":
            continue
        registry = entry.get("registry")
        where = f"  registry {registry['model']} v{registry['version']}" if registry else ""
        out.print(f"{entry['label']}: {entry['path']}{where}", highlight=False)
    out.print(f"MLflow store: {outcome.tracking_uri}")
    if outcome.failed:
        err.print(f"[bold red]{outcome.failed} training job(s) failed[/]")
        raise typer.Exit(3)


class Listing(StrEnum):
    methods = "methods"
    metrics = "metrics"
    suites = "suites"


@app.command("ls")
@user_errors
def list_registered(
    what: Annotated[Listing, typer.Argument(help="methods, metrics or suites")],
) -> None:
    """List registered methods, metrics or built-in suites."""
    from bench.registry import METHODS, METRICS, SUITES

    table = Table(show_edge=False)
    if what is Listing.methods:
        for column in ("name", "paper", "needs", "what it does"):
            table.add_column(column)
        for name in METHODS.names():
            cls = METHODS.get(name)
            needs = cls.needs
            need = (
                f"{needs.style} style"
                + (", training" if needs.training else "")
                + (", guides" if needs.guides else "")
            )
            table.add_row(name, cls.paper, need, cls.summary)
    elif what is Listing.metrics:
        for column in ("name", "better", "per", "unit", "needs", "definition"):
            table.add_column(column)
        for name in METRICS.names():
            info = METRICS.get(name).info
            table.add_row(
                name,
                "higher" if info.higher_is_better else "lower",
                info.per,
                info.unit,
                ", ".join(info.needs) or "-",
                info.description,
            )
    else:
        import yaml

        for column in ("name", "version", "description"):
            table.add_column(column)
        for name in SUITES.names():
            spec = yaml.safe_load(SUITES.get(name).read_text())
            table.add_row(name, str(spec.get("version")), spec.get("description", ""))
    out.print(table)


@app.command()
@user_errors
def validate(
    suite: Annotated[str, typer.Argument(help="Built-in suite name, YAML file, or folder.")],
    overrides: SetOpt = None,
) -> None:
    """Check a suite without running it: keys, files, every image, methods and their settings."""
    from bench.images import ImageError, load_image
    from bench.plan import make_plan
    from bench.suites.load import load_suite

    loaded = load_suite(suite, overrides or [])
    plan = make_plan(loaded)
    problems = []
    for ref in (*loaded.content, *loaded.style, *loaded.training_content, *loaded.training_style):
        try:
            load_image(ref.path, loaded.spec.image_size)
        except ImageError as exc:
            problems.append(str(exc))
    spec = loaded.spec
    out.print(
        f"suite {spec.name} v{spec.version}: {len(loaded.content)} content x {len(loaded.style)} style "
        f"at {spec.image_size} px, methods {', '.join(plan.methods)}, {len(plan.cells)} cells, "
        f"metrics {', '.join(plan.metrics)}"
    )
    if problems:
        raise BenchError("\n".join(["some images cannot be used:", *problems]))
    out.print("[green]OK[/]")


@app.command()
@user_errors
def ui(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Output folder whose MLflow store to open.")
    ] = Path("bench-out"),
    tracking_uri: Annotated[
        str | None, typer.Option(help="Store to open instead of the one in --out.")
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to bind; keep 127.0.0.1 unless you mean to share it.")
    ] = "127.0.0.1",
    port: int = 5000,
) -> None:
    """Start the MLflow UI on a run's tracking store."""
    from bench.tracking import default_tracking_uri

    uri = tracking_uri or default_tracking_uri(out_dir.resolve())
    out.print(f"MLflow UI for {uri} at http://{host}:{port} (Ctrl-C to stop)")
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        host,
        "--port",
        str(port),
    ]
    raise typer.Exit(subprocess.call(command))


if __name__ == "__main__":
    app()
