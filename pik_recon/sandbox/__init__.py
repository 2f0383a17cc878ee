"""The PIK sandbox: a local look-alike of PIK's API for the demo, the tests and trials.

Its own dependencies come with the extra `pik-recon[sandbox]`; the product runs without
them, and `missing()` names what `pik-recon sandbox` and `pik-recon demo` would lack.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator

EXTRA = "pip install 'pik-recon[sandbox]'"


# the modules the sandbox imports that come with its extra (tests/unit/test_dependencies.py
# checks this against pyproject.toml)
EXTRA_MODULES = ("sortedcontainers",)


def missing() -> str | None:
    """The module the sandbox needs and cannot import (from its extra), or None. Looked
    up, not imported: `pik-recon --help` asks."""
    return next((m for m in EXTRA_MODULES if importlib.util.find_spec(m) is None), None)


@contextlib.contextmanager
def sample_sandbox(api_key: str) -> Iterator[str]:
    """A sandbox on a free loopback port holding sample_data/'s links and transactions,
    answering `api_key` only; yields its base URL and stops it after the block."""
    from pik_recon.sandbox.seed import sample_links_path, seed_from_file
    from pik_recon.sandbox.server import SandboxServer
    from pik_recon.sandbox.state import SandboxState

    state = SandboxState(api_key=api_key, seed=1)
    seed_from_file(state, sample_links_path())
    with SandboxServer(state) as server:
        yield server.base_url
