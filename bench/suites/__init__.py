"""Built-in suites (YAML files beside this module), the contract a plugin's suite honours, and
the loader for every kind of suite (`stylebench.suites.load`)."""

from pathlib import Path

SMOKE = Path(__file__).with_name("smoke.yaml")
MONET = Path(__file__).with_name("monet.yaml")
STYLEID = Path(__file__).with_name("styleid.yaml")


def contract_problems(suite: object) -> list[str]:
    """What keeps ``suite`` from being a registered suite (empty: none): like the built-ins, a
    `pathlib.Path` to a YAML file, whose relative image paths are read beside it. Checked when
    the suite is looked up, so a plugin that forgot to ship its YAML is one line, not a
    traceback; the YAML itself is validated like any suite's when it is read."""
    if not isinstance(suite, Path):
        return [f"{suite!r} is not a pathlib.Path to a YAML file"]
    if suite.suffix not in (".yaml", ".yml"):
        return [f"{suite} is not a .yaml or .yml file"]
    if not suite.is_file():
        return [f"{suite} does not exist (is it listed in the package's package-data?)"]
    return []
