"""The ``bench`` command line: a thin Typer layer over plain typed functions.

Heavy imports (torch, Ray, MLflow) happen inside the commands, so ``bench --help`` is instant.
Errors a user can fix are printed as one clear message with a non-zero exit code, never as a
traceback.
"""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from stylebench import interrupts, ray_env
from stylebench.errors import BenchError, disk_error

if TYPE_CHECKING:
    from stylebench.data.store import DatasetCopy
    from stylebench.reports.compare import Comparison

app = typer.Typer(
    name="bench",
    help="stylebench: benchmark neural style transfer methods (runs, metrics, MLflow, reports).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Markup off: messages carry paths, YAML errors and names that may hold [brackets]; the few
# styled lines ask for markup and escape what they interpolate.
out = Console(soft_wrap=True, highlight=False, markup=False)
err = Console(stderr=True, soft_wrap=True, highlight=False, markup=False)
#: Width of tables written to a file or a log (rich would otherwise squeeze them into 80).
TABLE_WIDTH = 160

F = TypeVar("F", bound=Callable[..., object])


def user_errors(fn: F) -> F:
    """Turn `BenchError` into ``error: ...`` and its exit code, and so a full, read-only or
    forbidden disk (the one place such an `OSError` becomes a `DiskError`); Ctrl-C into exit
    130, SIGTERM and SIGHUP into 143 and 129 (see `bench.interrupts`)."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> object:
        interrupts.stop_like_ctrl_c()
        try:
            return fn(*args, **kwargs)
        except (BenchError, OSError) as exc:
            error = exc if isinstance(exc, BenchError) else disk_error(exc)
            if error is None:
                raise
            err.print(f"[bold red]error:[/] {escape(str(error))}", markup=True)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt as exc:
            sig = interrupts.cause(exc)
            cause = "" if sig == signal.SIGINT else f" ({sig.name})"
            err.print(
                f"[yellow]interrupted[/]{cause}: finished cells are kept; "
                "run the same command to resume",
                markup=True,
            )
            raise typer.Exit(interrupts.exit_code(exc)) from None

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
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder holding datasets (e.g. monet2photo/); default $STYLEBENCH_DATA or the user cache.",
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
TrackingOpt = Annotated[
    str | None,
    typer.Option(help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or sqlite in --out)."),
]
RayOpt = Annotated[
    str | None,
    typer.Option(help="Ray cluster to join (default: $RAY_ADDRESS or a local instance)."),
]
WeightsOpt = Annotated[
    str | None, typer.Option(help="pretrained | random | PATH (file or folder of checkpoints).")
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(min=1, help="Number of workers (default: one per GPU, else per CPU core)."),
]
MethodsOpt = Annotated[
    str | None, typer.Option(help="Comma-separated methods to run (default: the suite's).")
]
ThresholdOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--threshold",
        help="METRIC=FRACTION: practical threshold, relative to the baseline (repeatable).",
    ),
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
    methods: MethodsOpt = None,
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="Output folder for runs, reports and the default MLflow store."),
    ] = Path("bench-out"),
    tracking_uri: TrackingOpt = None,
    ray_address: RayOpt = None,
    weights: WeightsOpt = None,
    overrides: SetOpt = None,
    workers: WorkersOpt = None,
    resume: Annotated[
        Path | None, typer.Option(help="Run folder to resume: runs only its missing cells.")
    ] = None,
    data_dir: DataDirOpt = None,
    checkpoints: CheckpointOpt = None,
    retrain: RetrainOpt = False,
) -> None:
    """Run a suite: stylize every (method, content, style) cell, score it, track it, report it.

    Trained methods are trained first (once per method and style set) unless a matching
    checkpoint is cached or given with --checkpoint.
    """
    ray_env.configure(local=not (ray_address or os.environ.get("RAY_ADDRESS")))
    from stylebench.driver import options_for_resume, run_benchmark
    from stylebench.preflight import RunOptions

    if resume is not None:
        options = options_for_resume(resume, tracking_uri)
        options.ray_address, options.workers = ray_address, workers
    else:
        options = RunOptions(
            suite=suite,
            methods=_split(methods),
            out=out_dir,
            tracking_uri=tracking_uri,
            ray_address=ray_address,
            weights=weights,
            overrides=[*(overrides or []), *_checkpoint_overrides(checkpoints)],
            workers=workers,
            data_dir=data_dir,
            retrain=retrain,
        )
    outcome = run_benchmark(options)
    record = outcome.record
    if record.weights.random:
        out.print(
            "[bold red]RANDOM WEIGHTS[/]: numbers from this run test the pipeline, not quality.",
            markup=True,
        )
    out.print(
        f"Run:          {outcome.run_dir}  ({len(record.cells)} cells, {outcome.failed} failed)"
    )
    out.print(f"Report:       {outcome.report}")
    out.print(f"MLflow store: {outcome.tracking_uri}")
    from stylebench.tracking import experiment_page

    experiment = record.tracking.experiment_id if record.tracking else None
    page = f"http://127.0.0.1:5000/{experiment_page(experiment) if experiment else ''}"
    out.print(f"MLflow UI:    bench ui --tracking-uri '{outcome.tracking_uri}'  (then open {page})")
    if outcome.tracking_error:
        err.print(
            f"[bold yellow]warning:[/] {escape(outcome.tracking_error)}. Every result is safe in "
            f"the run folder; upload it with: bench sync {escape(str(outcome.run_dir))}",
            markup=True,
        )
    if outcome.failed:
        err.print(
            f"[bold red]{outcome.failed} cell(s) failed[/]; their errors are in the report and record.",
            markup=True,
        )
        raise typer.Exit(3)
    if outcome.tracking_error:
        raise typer.Exit(4)


@app.command()
@user_errors
def sync(
    run_dir: Annotated[Path, typer.Argument(help="Run folder (or its record.json) to upload.")],
    tracking_uri: Annotated[
        str | None, typer.Option(help="Store to upload to (default: the run's).")
    ] = None,
) -> None:
    """Upload to MLflow what a run has not logged yet (after a server outage); exactly once."""
    from stylebench.driver import sync_run

    ids = sync_run(run_dir, tracking_uri)
    out.print(f"synced {run_dir} to {ids.uri} (parent run {ids.parent_run_id})")


@app.command()
@user_errors
def train(
    methods: Annotated[str, typer.Argument(help="Trained method(s) to train, comma-separated.")],
    suite: SuiteArg = "smoke",
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder of the default MLflow store.")
    ] = Path("bench-out"),
    tracking_uri: TrackingOpt = None,
    ray_address: RayOpt = None,
    weights: WeightsOpt = None,
    overrides: SetOpt = None,
    retrain: RetrainOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Train a suite's trained methods on its training split; cache and register checkpoints."""
    ray_env.configure(local=not (ray_address or os.environ.get("RAY_ADDRESS")))
    from stylebench.driver import train_methods
    from stylebench.preflight import RunOptions

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
            data_dir=data_dir,
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
        err.print(f"[bold red]{outcome.failed} training job(s) failed[/]", markup=True)
        raise typer.Exit(3)


class CompareFormat(StrEnum):
    table = "table"
    markdown = "markdown"
    json = "json"


def _thresholds(items: list[str] | None) -> dict[str, float]:
    from stylebench.reports.compare import parse_thresholds

    try:
        return parse_thresholds(items or [])
    except ValueError as exc:
        raise BenchError(str(exc)) from None


def print_table(table: Table) -> None:
    """A table with every word whole: in a terminal it folds what does not fit; off one (a CI
    log, a file) it is drawn `TABLE_WIDTH` wide."""
    console = out if out.is_terminal else Console(width=TABLE_WIDTH, highlight=False, markup=False)
    console.print(table)


def _print_comparison(comparison: Comparison) -> None:
    from stylebench.reports.compare import changed_lines, fmt, fmt_change

    out.print("What changed:")
    for line in changed_lines(comparison):
        out.print(f"  {line}")
    if comparison.log:
        out.print(f"git log --oneline {comparison.commits[0][:12]}..{comparison.commits[1][:12]}:")
        for line in comparison.log:
            out.print(f"  {line}")
    table = Table(title=f"{comparison.candidate} vs baseline {comparison.baseline}")
    for column in ("method", "metric", "baseline", "candidate"):
        table.add_column(column, no_wrap=column != "metric", overflow="fold")
    table.add_column("change", overflow="fold")
    table.add_column("noise", overflow="fold")
    table.add_column("verdict", min_width=len("regressed"))
    colours = {"regressed": "bold red", "improved": "green", "unchanged": "", "not compared": "dim"}
    for c in comparison.changes:
        verdict = Text(c.verdict, style=colours[c.verdict])
        table.add_row(
            c.method,
            f"{c.metric} {'↑' if c.higher_is_better else '↓'}",
            fmt(c.baseline),
            fmt(c.candidate),
            fmt_change(c),
            c.noise,
            verdict + (f" ({c.reason})" if c.reason else ""),
        )
    print_table(table)
    for note in comparison.notes:
        out.print(f"note: {note}")
    out.print(f"{len(comparison.regressions)} regressed, {len(comparison.improvements)} improved")


@app.command("compare")
@user_errors
def compare_runs(
    baseline: Annotated[Path, typer.Argument(help="Baseline run folder (or its record.json).")],
    candidate: Annotated[Path, typer.Argument(help="Candidate run folder (or its record.json).")],
    output: Annotated[
        CompareFormat, typer.Option("--format", help="table | markdown | json")
    ] = CompareFormat.table,
    html: Annotated[
        Path | None,
        typer.Option(help="Also write the candidate's report with a comparison section here."),
    ] = None,
    thresholds: ThresholdOpt = None,
    history: Annotated[
        Path | None,
        typer.Option(
            help="A nightly history folder: its nights give each metric's night-to-night noise "
            "(throughput and prepare time are compared only with a noise estimate)."
        ),
    ] = None,
    fail_on_regression: Annotated[
        bool, typer.Option(help="Exit 1 if anything regressed beyond noise.")
    ] = False,
) -> None:
    """Compare two runs: what changed between them, then per method and metric the change,
    whether it is beyond noise, and a verdict (regressions first)."""
    import json

    from stylebench.environment import git_log
    from stylebench.nightly import noise_history, read_history
    from stylebench.records import read_record
    from stylebench.reports.compare import ComparisonError, compare, to_markdown
    from stylebench.reports.html import write_report

    base, cand = read_record(baseline), read_record(candidate)
    nights = noise_history(read_history(history), cand) if history is not None else []
    commits = base.environment.git_commit, cand.environment.git_commit
    try:
        comparison = compare(base, cand, _thresholds(thresholds), nights, git_log(*commits))
    except ComparisonError as exc:
        raise BenchError(f"cannot compare {baseline} with {candidate}: {exc}") from None
    if output is CompareFormat.json:
        out.print_json(json.dumps(comparison.as_dict()))
    elif output is CompareFormat.markdown:
        out.print(to_markdown(comparison))
    else:
        _print_comparison(comparison)
    if html is not None:
        run_dir = candidate if candidate.is_dir() else candidate.parent
        written = write_report(cand, run_dir, comparison.as_dict(), html.resolve())
        err.print(f"report with comparison: {written}")
    if fail_on_regression and comparison.regressions:
        raise typer.Exit(1)


@app.command()
@user_errors
def nightly(
    suite: SuiteArg = "smoke",
    history: Annotated[
        Path,
        typer.Option(help="History folder: runs/, history.jsonl, trend.html."),
    ] = Path("bench-nightly"),
    baseline: Annotated[
        str,
        typer.Option(help="last-good | tag:NAME | a run folder, record.json or run id."),
    ] = "last-good",
    tags: Annotated[
        list[str] | None, typer.Option("--tag", help="Tag this night (e.g. release-1.2).")
    ] = None,
    night: Annotated[
        str | None,
        typer.Option(
            help="Night stamp (default: today's UTC date). Each night is measured afresh, even "
            "on unchanged code; a rerun of the same night resumes it."
        ),
    ] = None,
    thresholds: ThresholdOpt = None,
    methods: MethodsOpt = None,
    tracking_uri: TrackingOpt = None,
    ray_address: RayOpt = None,
    weights: WeightsOpt = None,
    overrides: SetOpt = None,
    workers: WorkersOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Run a suite, compare with a baseline, keep the history; exit 1 exactly when something
    regressed beyond noise (more failed cells count as a regression)."""
    from stylebench.nightly import run_nightly
    from stylebench.preflight import RunOptions

    options = RunOptions(
        suite=suite,
        methods=_split(methods),
        out=history / "runs",
        tracking_uri=tracking_uri,
        ray_address=ray_address,
        weights=weights,
        overrides=overrides or [],
        workers=workers,
        data_dir=data_dir,
        night=night,
    )
    outcome = run_nightly(options, history, baseline, tags, _thresholds(thresholds))
    if outcome.comparison is None:
        out.print("no baseline yet: this night becomes the first one (nothing compared)")
    else:
        _print_comparison(outcome.comparison)
    out.print(f"Report:   {outcome.report}")
    out.print(f"Trends:   {outcome.trend}")
    out.print(f"Verdicts: {outcome.run_dir / 'regressions.txt'}")
    if outcome.regressed:
        err.print(
            f"[bold red]REGRESSED[/]: {len(outcome.comparison.regressions)} metric(s) "
            f"worse than {escape(str(outcome.baseline))} beyond noise",
            markup=True,
        )
        raise typer.Exit(1)


class Listing(StrEnum):
    methods = "methods"
    metrics = "metrics"
    encoders = "encoders"
    suites = "suites"


@app.command("ls")
@user_errors
def list_registered(
    what: Annotated[Listing, typer.Argument(help="methods, metrics, encoders or suites")],
) -> None:
    """List registered methods, metrics, encoders (feature networks) or suites, with origins."""
    from stylebench.registry import ENCODERS, METHODS, METRICS, SUITES

    table = Table(show_edge=False)
    if what is Listing.methods:
        for column in ("name", "origin", "paper", "needs", "what it does"):
            table.add_column(
                column, no_wrap=column == "name", min_width=len(column), overflow="fold"
            )
        declared, broken = METHODS.declared(("paper", "summary", "needs"))
        for name, entry in METHODS.entries().items():
            if name in broken:
                table.add_row(name, entry.origin, "", "", broken[name])
                continue
            values = declared[name]
            needs = values["needs"]
            need = (
                f"{needs.get('style', 'pair')} style"
                + (", training" if needs.get("training") else "")
                + (", guides" if needs.get("guides") else "")
                + (", both ways" if needs.get("both_ways") else "")
            )
            table.add_row(name, entry.origin, values["paper"], need, values["summary"])
    elif what is Listing.metrics:
        for column in ("name", "origin", "better", "per", "unit", "needs", "definition"):
            table.add_column(
                column, no_wrap=column == "name", min_width=len(column), overflow="fold"
            )
        declared, broken = METRICS.declared(("info",))
        for name, entry in METRICS.entries().items():
            if name in broken:
                table.add_row(name, entry.origin, "", "", "", "", broken[name])
                continue
            info = declared[name]["info"]
            table.add_row(
                name,
                entry.origin,
                "higher" if info["higher_is_better"] else "lower",
                info["per"],
                info.get("unit", ""),
                ", ".join(info.get("needs") or ()) or "-",
                info["description"]
                + ("" if info.get("default", True) else " (only where a suite lists it)"),
            )
    elif what is Listing.encoders:
        for column in ("name", "origin", "what it is"):
            table.add_column(
                column, no_wrap=column == "name", min_width=len(column), overflow="fold"
            )
        declared, broken = ENCODERS.declared(("summary",))
        for name, entry in ENCODERS.entries().items():
            summary = broken[name] if name in broken else declared[name]["summary"]
            table.add_row(name, entry.origin, summary)
    else:
        from stylebench.suites.load import read_spec

        for column in ("name", "origin", "version", "description"):
            table.add_column(
                column, no_wrap=column == "name", min_width=len(column), overflow="fold"
            )
        for name, entry in SUITES.entries().items():
            try:
                spec = read_spec(name).spec
            except BenchError as exc:  # a plugin's suite that cannot be read is its own row
                table.add_row(name, entry.origin, "", " ".join(str(exc).split()))
                continue
            table.add_row(name, entry.origin, str(spec.version), spec.description)
    print_table(table)


@app.command()
@user_errors
def validate(
    suite: Annotated[str, typer.Argument(help="Built-in suite name, YAML file, or folder.")],
    methods: MethodsOpt = None,
    weights: WeightsOpt = None,
    overrides: SetOpt = None,
    checkpoints: CheckpointOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Check what `bench run` would do with the same flags, without running it: keys, files,
    every image, methods and their settings, weights and checkpoints."""
    from stylebench.images import ImageError, load_image
    from stylebench.plan import blend_lines
    from stylebench.preflight import RunOptions, budgets, check_inputs

    checked = check_inputs(
        RunOptions(
            suite=suite,
            methods=_split(methods),
            weights=weights,
            overrides=[*(overrides or []), *_checkpoint_overrides(checkpoints)],
            data_dir=data_dir,
        )
    )
    plan = checked.plan
    loaded = plan.suite
    problems = list(checked.problems)
    every = (*loaded.content, *loaded.style, *loaded.guides.values())
    reverse = (*loaded.reverse_content, *loaded.reverse_reference)
    for ref in (*every, *loaded.training_content, *loaded.training_style, *reverse):
        try:
            load_image(ref.path, loaded.spec.image_size)
        except ImageError as exc:
            problems.append(str(exc))
    spec = loaded.spec
    out.print(
        f"suite {spec.name} v{spec.version}: {len(loaded.content)} content x {len(loaded.style)} style "
        f"at {spec.image_size} px, {len(loaded.guides)} semantic maps, methods "
        f"{', '.join(plan.methods)}, {len(plan.cells)} cells, metrics {', '.join(plan.metrics)}"
    )
    if loaded.reference or loaded.training_content:
        out.print(
            f"reference set {len(loaded.reference_set)} images; training "
            f"{len(loaded.training_content)} content, {len(loaded.training_style)} style images"
        )
    if loaded.reverse_content:
        out.print(
            f"reverse (style -> photo): {len(loaded.reverse_content)} style-domain images in, "
            f"reference set {len(loaded.reverse_reference)} photos"
        )
    for name, identity in loaded.datasets.items():
        out.print(f"dataset {name}: file list sha256 {identity['files_sha256']}")
    for line in blend_lines(plan):
        out.print(line)
    lines, warnings = budgets(plan, local=not os.environ.get("RAY_ADDRESS"))
    for line in lines:
        out.print(line)
    for warning in warnings:
        err.print(f"[bold yellow]warning:[/] {escape(warning)}", markup=True)
    if problems:
        raise BenchError("\n".join(["the suite cannot run as it is:", *problems]))
    out.print("[green]OK[/]", markup=True)


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
    """Start the MLflow UI on a run's tracking store (Ctrl-C or SIGTERM stops it)."""
    from stylebench.tracking import default_tracking_uri
    from stylebench.ui import serve

    uri = tracking_uri or default_tracking_uri(out_dir.resolve())

    def ready(url: str) -> None:
        out.print(f"MLflow UI for {uri} at {url} (Ctrl-C to stop)")

    try:
        code = serve(uri, host, port, ready)
    except KeyboardInterrupt as exc:
        raise typer.Exit(interrupts.exit_code(exc)) from None
    raise typer.Exit(code)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the run record (record.json) this stylebench writes."""
    import json

    from stylebench.record_model import json_schema

    print(json.dumps(json_schema(), indent=1, sort_keys=True))


data_app = typer.Typer(
    help="Datasets: download once, verify, and pin suites to the files they use.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")
DataName = Annotated[
    str, typer.Argument(help="A dataset (monet2photo) or a suite that uses one (monet).")
]


def _dataset_names(name: str) -> list[str]:
    """A dataset's name, or the datasets a suite (built-in name or YAML) reads."""
    from stylebench.data.catalog import DATASETS, get_dataset
    from stylebench.registry import SUITES
    from stylebench.suites.load import read_spec

    if name in DATASETS or not (name in SUITES.names() or Path(name).is_file()):
        return [get_dataset(name).name]
    spec = read_spec(name).spec
    used = sorted({s.dataset for s in spec.image_sets().values() if s.dataset})
    if not used:
        raise BenchError(f"suite {name} reads no dataset; known datasets: {', '.join(DATASETS)}")
    return used


def _show(copy: DatasetCopy, action: str) -> None:
    manifest = copy.manifest
    table = Table(show_edge=False)
    for column in ("split", "images", "files sha256"):
        table.add_column(column)
    for split, entry in manifest["splits"].items():
        table.add_row(split, f"{entry['count']:,}", entry["files_sha256"][:16])
    print_table(table)
    source = manifest.get("source") or {}
    out.print(f"{copy.spec.name} {action}: {copy.folder}")
    out.print(f"file list sha256: {manifest['files_sha256']}")
    archive = source.get("archive_sha256")
    pinned = "pinned" if copy.spec.archive_sha256 else "recorded, not pinned"
    out.print(
        f"archive sha256:   {archive} ({pinned})"
        if archive
        else "archive sha256:   - (copy not downloaded by stylebench)"
    )


@data_app.command("fetch")
@user_errors
def data_fetch(name: DataName, data_dir: DataDirOpt = None) -> None:
    """Download, check and extract a dataset once (an existing copy is verified instead)."""
    from stylebench.data.store import fetch

    for dataset in _dataset_names(name):
        _show(fetch(dataset, data_dir, console=err), "ready")


@data_app.command("verify")
@user_errors
def data_verify(name: DataName, data_dir: DataDirOpt = None) -> None:
    """Check a copy's structure and counts, hash every image, compare with its manifest."""
    from stylebench.data.store import verify

    for dataset in _dataset_names(name):
        _show(verify(dataset, data_dir), "verified")


@data_app.command("pin")
@user_errors
def data_pin(
    suite: Annotated[str, typer.Argument(help="Built-in suite name or YAML file.")],
    data_dir: DataDirOpt = None,
) -> None:
    """Write the file names a suite's selection rules pick into the suite file."""
    from stylebench.suites.pin import pin_suite

    pinned = pin_suite(suite, data_dir)
    for where, names in pinned.sets.items():
        state = "pinned" if where in pinned.changed else "already pinned"
        out.print(f"{where}: {len(names)} names {state}")
    if pinned.changed:
        out.print(f"wrote {pinned.path} (version {pinned.version}); commit it")


if __name__ == "__main__":
    app()
