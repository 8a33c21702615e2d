"""One error base (retrieval.errors.HarnessError) and one way every command line reports it."""

from __future__ import annotations

import importlib

import pytest

from retrieval.errors import HarnessError, UsageError, command_line

#: every user-facing error, and the built-in base that code and tests also catch it by
USER_ERRORS = [
    ("retrieval.config", "ConfigError", ValueError),
    ("retrieval.augment.backtranslate", "ApertiumMissing", ValueError),
    ("retrieval.augment.wordnet", "WordNetMissing", RuntimeError),
    ("retrieval.data.errors", "DataError", ValueError),
    ("retrieval.errors", "UsageError", ValueError),
    ("studies.errors", "SpecError", ValueError),
    ("studies.storage", "StorageError", ValueError),
    ("studies.study", "RunnerError", RuntimeError),
    ("reports.collect", "CollectError", ValueError),
    ("benchmarks.perf.hpo.table", "TableError", ValueError),
    ("benchmarks.leaderboard.formats", "LeaderboardError", ValueError),
    ("benchmarks.leaderboard.formats", "InputError", ValueError),
    ("benchmarks.leaderboard.board", "BoardError", ValueError),
]

#: every command line's main
MAINS = ["retrieval.cli", "studies.cli", "reports.cli", "benchmarks.leaderboard.cli", "benchmarks.perf.cli",
         "benchmarks.train_speed", "benchmarks.fusion_effect", "benchmarks.seed_noise", "benchmarks.harness_overhead",
         "benchmarks.planted_effects"]


@pytest.mark.parametrize("module,name,builtin", USER_ERRORS, ids=[n for _, n, _ in USER_ERRORS])
def test_user_errors_derive_from_the_base_and_keep_their_builtin_base(module, name, builtin):
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, HarnessError) and issubclass(cls, builtin)


def test_trial_outcomes_are_not_user_errors():
    from retrieval.train import StopTrial, TrainingDiverged

    assert not issubclass(TrainingDiverged, HarnessError) and issubclass(TrainingDiverged, RuntimeError)
    assert not issubclass(StopTrial, HarnessError)


@pytest.mark.parametrize("module", MAINS)
def test_every_command_line_reports_errors_through_the_one_helper(module):
    main = importlib.import_module(module).main
    assert getattr(main, "__wrapped__", None) is not None and main.__module__ == module
    assert main.__code__ is command_line(lambda: 0).__code__  # the helper's wrapper, not a copy


def test_command_line_prints_the_message_and_exits_2_or_130(capsys):
    def fail(exc):
        @command_line(also=(OSError,), one_line=("\n" in str(exc)))
        def main():
            raise exc
        return main()

    assert fail(UsageError("--split goes with --run")) == 2
    assert capsys.readouterr().err == "error: --split goes with --run\n"
    assert fail(HarnessError("two\n  lines")) == 2 and capsys.readouterr().err == "error: two lines\n"
    assert fail(FileNotFoundError("out.csv")) == 2 and capsys.readouterr().err == "error: out.csv\n"
    assert fail(KeyboardInterrupt()) == 130 and capsys.readouterr().err == "interrupted\n"
    with pytest.raises(ZeroDivisionError):  # a bug still shows its traceback
        fail(ZeroDivisionError("x"))
