from __future__ import annotations

import itertools
import os

import pytest

from xdpfw.tools.netns import Lab

_ids = itertools.count()


@pytest.fixture
def lab_factory():
    """Make labs with unique namespace names; every one is destroyed after the test,
    whatever happened in it."""
    labs: list[Lab] = []

    def make(queues: int | None = None, allocated: int | None = None) -> Lab:
        lab = Lab(prefix=f"xt{os.getpid() % 10000}-{next(_ids)}", queues=queues, allocated=allocated)
        labs.append(lab)
        lab.create()
        return lab

    yield make
    for lab in labs:
        lab.destroy()


@pytest.fixture
def lab(lab_factory) -> Lab:
    return lab_factory()
