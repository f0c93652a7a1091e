#!/usr/bin/env bash
# Install what the tests need (uv, the locked environment with the test tools and the optional
# embeddings extra, the example plugin, Debian's chromium for the browser tests), then lint and
# run the whole test suite.
# Extra arguments go to pytest, e.g. `bash tests/run.sh -k gatys`. Tests run in 2 processes
# (pytest-xdist; set PYTEST_WORKERS=0 for one): the end-to-end tests spend much of their time
# waiting on process, Ray and server start-up, which two processes overlap.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v uv >/dev/null 2>&1; then
  uv=(uv)
else
  python3 -m pip install --quiet uv
  uv=(python3 -m uv)
fi

if ! command -v chromium >/dev/null 2>&1; then
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

"${uv[@]}" sync --locked --group test --extra embeddings
# The worked example of a plugin (README, "Adding a method"), installed as a user would: the
# test suite runs with it installed, and tests/test_plugin_example.py runs it end to end.
"${uv[@]}" pip install --quiet --python .venv/bin/python --no-deps -e examples/reinhard
"${uv[@]}" run --locked --group test --extra embeddings ruff check .
"${uv[@]}" run --locked --group test --extra embeddings ruff format --check .
exec "${uv[@]}" run --locked --group test --extra embeddings pytest -n "${PYTEST_WORKERS:-2}" --durations=25 "$@"
