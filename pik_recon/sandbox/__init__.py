"""The PIK sandbox: a local look-alike of PIK's API for the demo, the tests and trials.

Its own dependencies come with the extra `pik-recon[sandbox]`; the product runs without
them, and `missing()` names what `pik-recon sandbox` and `pik-recon demo` would lack.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator

EXTRA = "pip install 'pik-recon[sandbox]'"


def missing() -> str | None:
    """The module the sandbox needs and cannot import (from its extra), or None."""
    try:
        importlib.import_module("pik_recon.sandbox.server")
    except ModuleNotFoundError as exc:
        if exc.name and not exc.name.startswith("pik_recon"):
            return exc.name
        raise
    return None


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
