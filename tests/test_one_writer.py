"""One run folder, one writer: two ``bench run`` of the same config into one --out."""

from __future__ import annotations

import subprocess

from mlflow.tracking import MlflowClient

from tests.test_resilience import BENCH, env, faulty_suite, journal_lines


def test_a_second_run_into_a_folder_in_use_stops_at_once_naming_the_holder(tmp_path):
    suite = faulty_suite(tmp_path, 3, sleep_s=1.0)
    out = tmp_path / "out"
    argv = [BENCH, "run", "--suite", str(suite), "--out", str(out), "--workers", "1"]
    both = [
        subprocess.Popen(
            argv, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=600), *p.communicate()) for p in both]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], [err[-500:] for _, _, err in results]
    holder, second = (next(r for r in results if r[0] == code) for code in (0, 2))
    errors = [line for line in second[2].splitlines() if line.startswith("error:")]
    assert "Traceback" not in second[2] and len(errors) == 1
    assert f"PID {both[results.index(holder)].pid}" in errors[0]

    run_dir = next(out.glob("tiny-*"))
    assert len(journal_lines(run_dir)) == 3  # every cell computed once
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("stylebench/tiny")
    assert len(client.search_runs([experiment.experiment_id])) == 2  # one parent, one child
