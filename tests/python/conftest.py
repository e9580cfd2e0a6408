"""What the Python suites share: one processor, so that the component is
compiled once per run (wasmtime-py compiles it with Cranelift, about half a
second of CPU) rather than once per module or test."""

import pytest

from switchboard import Processor  # the installed package


@pytest.fixture(scope="session")
def processor():
    return Processor()
