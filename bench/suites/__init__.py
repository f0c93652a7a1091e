"""Built-in suites (YAML files beside this module) and the loader for every kind of suite."""

from pathlib import Path

SMOKE = Path(__file__).with_name("smoke.yaml")
MONET = Path(__file__).with_name("monet.yaml")
