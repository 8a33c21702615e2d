"""Shared test set-up: offline, quiet, and one cache folder per test session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """A session-wide cache (generated SynthCaps + log-mel features) so tests share the work."""
    path = tmp_path_factory.mktemp("cache")
    return path
