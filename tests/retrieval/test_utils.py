"""retrieval.utils: atomic writes keep the usual file mode; cache writes are atomic and never stop the work."""

from __future__ import annotations

import os
import stat

import pytest

from retrieval.utils import FILE_MODE, atomic_write_text, write_cache_entry


def test_atomic_writes_get_the_mode_of_an_ordinary_write(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic = tmp_path / "atomic.txt"
    atomic_write_text(atomic, "x")
    assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode) == FILE_MODE


def test_cache_entry_is_written_whole_or_not_at_all(tmp_path):
    entry = tmp_path / "c" / "e.bin"
    assert write_cache_entry(entry, lambda fh: fh.write(b"abc"), "test cache")
    assert entry.read_bytes() == b"abc" and stat.S_IMODE(entry.stat().st_mode) == FILE_MODE

    def boom(fh):
        fh.write(b"half")
        raise OSError("disk full")

    with pytest.warns(UserWarning, match=r"test cache: cannot write .*e.bin: disk full"):
        assert not write_cache_entry(entry, boom, "test cache")
    assert entry.read_bytes() == b"abc"  # the old entry is intact ...
    assert os.listdir(entry.parent) == ["e.bin"]  # ... and no temporary file is left behind


def test_an_unwritable_cache_only_warns(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.warns(UserWarning, match="cannot write"):
        assert not write_cache_entry(blocker / "sub" / "e.bin", lambda fh: fh.write(b"x"), "feature cache")
