"""A worked example of a stylebench plugin: Reinhard et al.'s colour transfer as a method
(`stylebench_reinhard.method`, the ``stylebench.methods`` entry point ``reinhard``) and a suite
that runs it (the ``stylebench.suites`` entry point ``reinhard-demo``).

This module imports nothing but the standard library: ``bench ls`` imports it to find the suite
(and Python imports it before ``method``'s source is read for ``bench ls methods``), and torch's
import would cost every listing seconds.
"""

from pathlib import Path

#: The suite this package ships, ``bench run --suite reinhard-demo``.
DEMO_SUITE = Path(__file__).with_name("demo.yaml")
