"""A new user's faults around a run folder end in one ``error: ...`` line and exit 2, with nothing left behind:
damaged checkpoints (evaluate, resume, the final evaluation), ``--out`` naming a file, data that cannot be read
(no run folder is created), audio files that are not audio, bad ``synth`` options."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from retrieval.checkpoint import CheckpointError
from retrieval.cli import main
from retrieval.config import TrialConfig
from retrieval.train import RunDirError, fit


def tiny(cache_dir, **overrides):
    base = {"data.cache_dir": str(cache_dir), "train.progress": False, "train.num_threads": 1, "train.epochs": 1}
    base.update(overrides)
    return TrialConfig.load("synthcaps-tiny").with_overrides(base)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cache_dir):
    """One finished SynthCaps-tiny run of 1 epoch (copied by the tests that damage it)."""
    out = tmp_path_factory.mktemp("trained") / "run"
    fit(tiny(cache_dir), out)
    return out


def copy_of(run: Path, where: Path) -> Path:
    dst = where / "copy"
    shutil.copytree(run, dst)
    return dst


def truncate(path: Path, size: int = 100_000) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(size)


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


def train_args(cache_dir, out) -> list[str]:
    return ["train", "--config", "synthcaps-tiny", "--out", str(out), "--quiet", "--set", f"data.cache_dir={cache_dir}",
            "--set", "train.epochs=1", "--set", "train.num_threads=1"]


# ------------------------------------------------------------------------------------- damaged checkpoints
def test_evaluate_with_a_truncated_best_pt_is_an_error_line(trained, tmp_path, capsys):
    run = copy_of(trained, tmp_path)
    truncate(run / "best.pt")
    sub = tmp_path / "x.csv"
    assert main(["evaluate", "--run", str(run), "--submission", str(sub), "--quiet"]) == 2
    err = error_line(capsys)
    assert f"{run / 'best.pt'} is not a readable checkpoint" in err and "--no-resume" in err
    assert "PytorchStreamReader" in err and "internal miniz error" not in err  # torch's reason, its first sentence
    assert not sub.exists()


def test_evaluate_with_a_best_pt_of_another_model_names_what_does_not_fit(trained, tmp_path, capsys):
    run = copy_of(trained, tmp_path)
    torch.save({"something.else": torch.zeros(3)}, run / "best.pt")
    assert main(["evaluate", "--run", str(run), "--submission", str(tmp_path / "x.csv"), "--quiet"]) == 2
    err = error_line(capsys)
    assert f"{run / 'best.pt'} does not fit this model" in err and "unexpected key(s): something.else" in err


def test_resuming_from_a_truncated_last_pt_says_no_resume_and_no_resume_starts_over(trained, tmp_path, cache_dir,
                                                                                      capsys):
    run = copy_of(trained, tmp_path)
    truncate(run / "last.pt")
    before = sorted(p.name for p in run.iterdir())
    assert main(train_args(cache_dir, run)) == 2
    err = error_line(capsys)
    assert f"{run / 'last.pt'} is not a readable checkpoint" in err and "--no-resume" in err
    assert sorted(p.name for p in run.iterdir()) == before
    # ... and the way out it names works
    assert main(train_args(cache_dir, run) + ["--no-resume"]) == 0
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 1


def test_a_last_pt_that_is_no_resume_state_is_refused(trained, tmp_path, cache_dir):
    run = copy_of(trained, tmp_path)
    torch.save([1, 2, 3], run / "last.pt")
    with pytest.raises(CheckpointError, match="does not hold a run's resume state .*--no-resume"):
        fit(tiny(cache_dir), run)


def test_final_evaluation_of_a_truncated_best_pt_is_a_checkpoint_error(trained, tmp_path, cache_dir):
    """Resuming a finished run re-evaluates its best.pt (no epoch left to train)."""
    run = copy_of(trained, tmp_path)
    truncate(run / "best.pt")
    with pytest.raises(CheckpointError, match=f"{run / 'best.pt'} is not a readable checkpoint"):
        fit(tiny(cache_dir), run)


# ------------------------------------------------------------------------------------- run folder paths
@pytest.mark.parametrize("under", [False, True])
def test_out_naming_a_file_or_a_path_under_one_is_an_error_line(tmp_path, cache_dir, capsys, under):
    afile = tmp_path / "notes.txt"
    afile.write_text("a file\n")
    out = afile / "run" / "x" if under else afile
    assert main(train_args(cache_dir, out)) == 2
    err = error_line(capsys)
    assert err.startswith(f"error: {out}: ") and "choose another folder" in err
    assert (f"lies under {afile}, which is a file" if under else "is a file, not a folder") in err
    assert afile.read_text() == "a file\n"
    with pytest.raises(RunDirError):
        fit(tiny(cache_dir), out)


# ------------------------------------------------------------------------------------- data errors
def test_a_data_error_leaves_no_run_folder(tmp_path, cache_dir, capsys):
    empty = tmp_path / "clotho"
    empty.mkdir()
    out = tmp_path / "runs" / "x"
    args = train_args(cache_dir, out) + ["--set", "data.dataset=clotho", "--set", f"data.root={empty}"]
    assert main(args) == 2
    assert "clotho_captions_development.csv" in error_line(capsys)
    assert not out.exists() and not out.parent.exists()


def test_a_wav_that_is_not_audio_is_named_and_leaves_no_run_folder(trained, tmp_path, cache_dir, capsys):
    """Through the feature cache (which decodes from memory) the message named ``<_io.BytesIO object at 0x..>``."""
    src = TrialConfig.load(trained / "config.yaml")
    from retrieval.data.loading import resolve_data_root

    data = tmp_path / "synthcaps"
    shutil.copytree(resolve_data_root(src), data)
    wav = sorted((data / "development").glob("*.wav"))[0]
    wav.write_bytes(b"not audio at all")
    out = tmp_path / "run"
    assert main(train_args(cache_dir, out) + ["--set", f"data.root={data}"]) == 2
    err = error_line(capsys)
    assert err.startswith(f"error: {wav}: cannot decode audio: ") and "BytesIO" not in err
    assert not out.exists()


# ------------------------------------------------------------------------------------- synth
@pytest.mark.parametrize("option,value", [("--seed", "-1"), ("--sample-rate", "100")])
def test_synth_out_of_range_options_are_error_lines(tmp_path, capsys, option, value):
    out = tmp_path / "D"
    assert main(["synth", "--out", str(out), "--size", "tiny", option, value, "--quiet"]) == 2
    assert error_line(capsys).startswith(f"error: {option} {value}: ")
    assert not out.exists()


def test_synth_out_under_a_file_is_an_error_line(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("")
    assert main(["synth", "--out", str(afile / "x" / "y"), "--size", "tiny", "--quiet"]) == 2
    assert f"lies under {afile}, which is a file" in error_line(capsys)
