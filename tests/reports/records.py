"""Synthetic run records (and their images) for report tests: the truth is known by construction."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
from PIL import Image

from stylebench.record_builder import metric_entry
from stylebench.record_model import SCHEMA, RunRecord

METRICS = {
    "content_loss": {
        "name": "content_loss",
        "higher_is_better": False,
        "per": "image",
        "unit": "",
        "description": "c",
        "needs": ["content"],
    },
    "latency": {
        "name": "latency",
        "higher_is_better": False,
        "per": "image",
        "unit": "s",
        "description": "t",
        "needs": [],
    },
}


def _png(path: Path, value: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(path)
    return path.name


def typed(record: dict) -> RunRecord:
    """A record built as JSON (what ``record.json`` holds), read as the harness reads it."""
    return RunRecord.model_validate(json.loads(json.dumps(record)))


def synthetic_record(
    run_dir: Path,
    content_names: list[str],
    style_names: list[str],
    methods: dict[str, float],
    random: bool = True,
) -> dict:
    """A record whose method ``m`` scores ``methods[m]`` (+ tiny per-cell offsets) everywhere."""
    content = [
        {"key": f"c-{i}", "name": n, "sha256": "0" * 64, "input": f"inputs/content/c-{i}.png"}
        for i, n in enumerate(content_names)
    ]
    style = [
        {"key": f"s-{i}", "name": n, "sha256": "0" * 64, "input": f"inputs/style/s-{i}.png"}
        for i, n in enumerate(style_names)
    ]
    for ref in content + style:
        _png(run_dir / ref["input"], 90)
    cells = []
    for m, (method, value) in enumerate(methods.items()):
        for i, c in enumerate(content):
            for j, s in enumerate(style):
                output = f"images/{method}/{c['key']}/{s['key']}.png"
                _png(run_dir / output, 40 + 20 * m)
                cells.append(
                    {
                        "id": f"{method}/{c['key']}/{s['key']}",
                        "method": method,
                        "content": c["key"],
                        "style": s["key"],
                        "seed": 0,
                        "status": "ok",
                        "output": output,
                        "scores": {"content_loss": value + 0.001 * (i + j), "latency": 0.5},
                        "curves": {"total": [3.0, 2.0, 1.0]},
                        "prepare_time": 0.0,
                        "error": None,
                        "traceback": None,
                        "device": "cpu",
                        "worker": "w",
                        "weights": [],
                    }
                )
    return {
        "schema": SCHEMA,
        "run_id": "suite-abc",
        "run_key": "k",
        "status": "complete",
        "started": "t0",
        "finished": "t1",
        "config": {},
        "config_hash": "h",
        "suite": {
            "name": "suite",
            "version": 1,
            "description": "",
            "source": "here",
            "image_size": 16,
            "seed": 0,
            "file_list_hash": "f",
            "preprocess": "p",
            "content": content,
            "style": style,
        },
        "environment": {
            "git_commit": "abc",
            "packages": {"torch": "x"},
            "host": "h",
            "platform": "p",
            "devices": ["cpu"],
        },
        "weights": {
            "source": "random(seed=0)" if random else "pretrained",
            "random": random,
            "networks": [],
        },
        "evaluation": {
            "network": "vgg19",
            "content": {"layers": ["relu4_2"]},
            "style": {"layers": ["relu1_1"]},
        },
        "metrics": copy.deepcopy(METRICS),
        "methods": {
            name: {
                "config": {"steps": 1},
                "summary": "s",
                "paper": "p",
                "needs": {},
                "prepare_time": 0.0,
                "cells_planned": len(content) * len(style),
                "cells_ok": len(content) * len(style),
                "cells_failed": 0,
            }
            for name in methods
        },
        "cells": cells,
    }


def wide_record(run_dir: Path, methods: int, contents: int, styles: int, size: int) -> dict:
    """A record shaped like a real run of ``methods`` methods: every built-in metric with its
    real declaration, intervals, set scores with N and warnings, and procedural images of
    ``size`` px (scenes, paintings and their blends as outputs) at their real sizes on disk."""
    from stylebench.registry import METRICS
    from stylebench.suites.procedural import painting, scene

    names = [f"method_{i}" for i in range(methods)]
    record = synthetic_record(
        run_dir,
        [f"scene_{i}.jpg" for i in range(contents)],
        [f"painting_{j}.jpg" for j in range(styles)],
        {name: 0.1 * (i + 1) for i, name in enumerate(names)},
    )
    record["suite"]["image_size"] = size
    record["metrics"] = {
        name: metric_entry(METRICS.get(name).info).model_dump(mode="json")
        for name in METRICS.builtin_names()
    }
    per_image = [n for n, info in record["metrics"].items() if info["per"] == "image"]
    rng = np.random.default_rng(0)
    scenes = [scene(i, size) for i in range(contents)]
    paintings = [painting(j, size) for j in range(styles)]
    for ref, image in zip(record["suite"]["content"], scenes, strict=True):
        image.save(run_dir / ref["input"])
    for ref, image in zip(record["suite"]["style"], paintings, strict=True):
        image.save(run_dir / ref["input"])
    for cell in record["cells"]:
        i, j = int(cell["content"][2:]), int(cell["style"][2:])
        weight = 0.3 + 0.05 * names.index(cell["method"])
        Image.blend(scenes[i], paintings[j], weight).save(run_dir / cell["output"])
        cell["scores"] = {n: float(rng.uniform(0.001, 2.0)) for n in per_image}
    for i, name in enumerate(names):
        summary = record["methods"][name]
        summary["throughput"] = 10.0 + i
        summary["prepare_time"] = 0.5 * i
        summary["set_scores"] = {
            n: {"value": 10.0 + i, "n": contents * styles, "n_reference": styles, "warnings": []}
            | ({"std": 0.01} if n == "kid" else {})
            for n, info in record["metrics"].items()
            if info["per"] == "set"
        }
    return record


RUNTIME_METRICS = {
    "peak_memory": {"higher_is_better": False, "per": "image", "unit": "MiB"},
    "throughput": {"higher_is_better": True, "per": "method", "unit": "images/s"},
    "prepare_time": {"higher_is_better": False, "per": "method", "unit": "s"},
}


def with_runtime(
    record: dict,
    throughput: float = 10.0,
    prepare_time: float = 0.5,
    peak_memory: float = 500.0,
    repeats: list[float] | None = None,
) -> dict:
    """``record`` also measuring peak memory (every cell), throughput (a batch of 8; ``repeats``:
    the seconds of each timed run, none for an iterative method) and prepare time."""
    for name, info in RUNTIME_METRICS.items():
        record["metrics"][name] = {"name": name, "description": name, "needs": [], **info}
    for cell in record["cells"]:
        cell["scores"]["peak_memory"] = peak_memory
    for summary in record["methods"].values():
        summary["throughput"] = throughput
        summary["prepare_time"] = prepare_time
        summary["throughput_details"] = {
            "value": throughput,
            "batch_size": 8,
            "seconds": 8 / throughput,
            "runs": len(repeats or [8 / throughput]),
            **({"run_seconds": repeats} if repeats else {}),
        }
    return record
