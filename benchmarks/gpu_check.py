"""The GPU path checked: real encoders trained on CUDA (mixed precision) and on the CPU, compared; a shared-GPU study.

``python -m benchmarks gpu_check --device cuda`` (a few minutes on one GPU):

1. **Runs.** ``synthcaps-tiny`` trained ``--epochs`` (2) epochs with each audio encoder that matters on a GPU, each
   with another text encoder and fusion so that every value is covered once (:data:`FULL_RUNS`):
   ``cnn10 + tiny-bert + none``, ``cnn14 + hf + late``, ``passt + tiny-bert + mid``. PaSST is a small trainable
   one (dim 64, depth 2, 4 heads, 16x16 patches every 10) with structured patchout (2 time columns, 1 frequency
   row); ``hf`` is a random BERT (2 layers, hidden 64) built from a local ``BertConfig`` and a WordPiece vocabulary
   learnt from the training captions, saved with ``save_pretrained`` into the work folder (nothing is downloaded).
   Every run has the audio augmentations on (gain, SpecAugment, Freq-MixStyle) and metadata dropout, so their
   masks, permutations and draws take the device path too. Dropout is off (``*.dropout: 0``): CUDA draws its
   dropout masks from another generator than the CPU, which would make the two runs differ like two seeds; every
   other draw (crops, augmentations, patchout, shuffling) comes from CPU generators seeded per epoch, so it is the
   same on both devices.
2. **The same runs on the CPU** (the reference), compared per run: the first epoch's mean training loss (relative
   difference) and mAP@10 on validation and test (absolute difference), within :data:`GPU_TOLERANCE`. With
   ``train.amp`` (the default) the CUDA forward pass runs in float16 under autocast with a gradient scaler, the CPU
   in float32; cuDNN also picks other convolution algorithms and, by default, TF32 for convolutions. Float16 keeps
   about 3 significant digits (a relative rounding error of 2^-11 ≈ 5e-4 per operation), and the gradient updates
   carry those differences into the next steps, so the first epoch's loss (the mean over its 4 steps) is expected
   within about 1 % and bounded at 2 %; mAP@10 moves by whole queries (one query's AP@10 is at most 1/120 of
   the mean on the 120 validation captions of SynthCaps tiny), and a few queries swapping ranks after 8 steps is
   expected, so the bound is 0.05 absolute. Larger differences mean a device or dtype bug, not rounding.
3. **Timing and memory**: per run the training time per epoch on each device (the second epoch when there are
   two: the first pays cuDNN's autotuning and CUDA's lazy start), their ratio (CPU / GPU), peak GPU memory
   (``torch.cuda.max_memory_allocated`` over the run) and whether AMP was active: ``fit``'s own record
   (``RunResult.extra["device"]["amp"]``) and the dtype of the score matrix that the trained model produces under
   the training loop's autocast context (:func:`retrieval.train.autocast`): ``float16`` when it is on.
4. **A study** (``benchmarks/gpu_check_study.yaml``): two trials with ``resources: {gpu: 0.5}``, both at once, so
   Ray Tune places them on one GPU together; run by the real study runner and recorded in its Optuna study. Checked:
   both trials COMPLETE, each trained on CUDA with AMP (its ``metrics.json``), and whether their run times
   overlapped (they shared the GPU at the same time).

``--device cpu`` is the same check on the CPU (what CI runs, to keep the script working): the reference runs are a
second CPU run of each configuration, so the comparison becomes a determinism check (tolerance 0: CPU runs are
bit-reproducible), there is no GPU memory, and the study runs with ``resources.gpu=0``. ``--quick``: two runs
(:data:`QUICK_RUNS`: ``cnn10 + tiny-bert + late``, ``passt + hf + mid``) and 1 epoch. ``--device cuda`` without a
usable CUDA device ends with one ``error:`` line (exit 2). A check outside its tolerances exits 1.

Results: ``benchmarks/results/gpu_check.{json,md}`` for CUDA, ``gpu_check_cpu.{json,md}`` for the CPU (``_quick``
appended with ``--quick``); both name the device (``torch.cuda.get_device_name`` or the CPU model).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.errors import UsageError, command_line

from .common import machine, markdown_table, write_results

STUDY_SPEC = Path(__file__).with_name("gpu_check_study.yaml")


@dataclass(frozen=True)
class CheckRun:
    """One configuration of the check: an audio encoder, a text encoder and a fusion head."""

    audio: str
    text: str
    fusion: str

    @property
    def name(self) -> str:
        return f"{self.audio}+{self.text}+{self.fusion}"


#: Every audio encoder once, the text encoders and fusion heads rotating so that each value is covered.
FULL_RUNS = (CheckRun("cnn10", "tiny-bert", "none"), CheckRun("cnn14", "hf", "late"),
             CheckRun("passt", "tiny-bert", "mid"))
#: ``--quick``: the two encoder families, both text encoders, the two fusion heads that use metadata.
QUICK_RUNS = (CheckRun("cnn10", "tiny-bert", "late"), CheckRun("passt", "hf", "mid"))

#: GPU (AMP, float16) against the CPU (float32); see the module docstring for why these bounds.
GPU_TOLERANCE = {"first_epoch_loss_rel": 0.02, "map10_abs": 0.05}
#: CPU against the CPU: runs are bit-reproducible.
CPU_TOLERANCE = {"first_epoch_loss_rel": 0.0, "map10_abs": 0.0}

#: Overrides of every run: no dropout (see the module docstring), the audio augmentations and metadata dropout on.
COMMON = {"train.progress": False, "train.patience": None, "audio_encoder.dropout": 0.0,
          "text_encoder.dropout": 0.0, "fusion.mid.dropout": 0.0, "augment.gain.g_max": 3.0,
          "augment.spec.n_f": 1, "augment.spec.n_t": 1, "augment.mixstyle.p": 0.5, "fusion.metadata_dropout": 0.2}
#: A small trainable PaSST for SynthCaps' 32 mel bins (2 frequency rows of patches, up to 16 time columns: the
#: 6-second evaluation crop makes 14) with structured patchout.
PASST = {"audio_encoder.passt.dim": 64, "audio_encoder.passt.depth": 2, "audio_encoder.passt.heads": 4,
         "audio_encoder.passt.patch_size": 16, "audio_encoder.passt.patch_stride": 10,
         "audio_encoder.passt.max_time_patches": 16, "audio_encoder.passt.s_patchout_t": 2,
         "audio_encoder.passt.s_patchout_f": 1}
#: The random BERT of the ``hf`` runs.
HF_BERT = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128,
           "max_position_embeddings": 64, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


# --------------------------------------------------------------------------------------------- set-up
def cuda_ready() -> str | None:
    """None when CUDA can be used, else why not (one line)."""
    import torch

    if not torch.cuda.is_available():
        built = torch.version.cuda
        return ("--device cuda: no CUDA device is available (torch.cuda.is_available() is False; torch "
                f"{torch.__version__} {'built with CUDA ' + built if built else 'is a CPU-only build'})")
    return None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_facts(device: str) -> dict[str, Any]:
    """What the check ran on: the device's name, and for CUDA its capability, memory and the TF32 switches."""
    import torch

    facts: dict[str, Any] = {"device": device, "cpu_model": cpu_model(), "torch_cuda": torch.version.cuda}
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        facts.update({"device_name": torch.cuda.get_device_name(0),
                      "capability": list(torch.cuda.get_device_capability(0)),
                      "total_memory_bytes": int(props.total_memory), "device_count": torch.cuda.device_count(),
                      "cudnn": torch.backends.cudnn.version(),
                      "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
                      "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32)})
    else:
        facts["device_name"] = facts["cpu_model"]
    return facts


def make_hf_folder(folder: Path, captions: list[str]) -> Path:
    """A Hugging Face BERT folder with random weights (:data:`HF_BERT`) and a WordPiece vocabulary of the captions,
    saved with ``save_pretrained``: what ``text_encoder.name: hf`` loads, offline."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    from retrieval.encoders.text import learn_wordpiece_vocab, preprocess_caption

    counts: dict[str, int] = {}
    for c in captions:
        for w in preprocess_caption(c).split():
            counts[w] = counts.get(w, 0) + 1
    vocab = learn_wordpiece_vocab(counts, 500)
    folder.mkdir(parents=True, exist_ok=True)
    BertTokenizer(vocab={tok: i for i, tok in enumerate(vocab)}).save_pretrained(folder)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(vocab), **HF_BERT)).save_pretrained(folder)
    return folder


def run_config(run: CheckRun, *, device: str, epochs: int, cache_dir: str | None, hf_path: Path | None,
               threads: int | None = None):
    """The TrialConfig of ``run`` on ``device``."""
    from retrieval.config import TrialConfig

    sets: dict[str, Any] = {**COMMON, "train.epochs": epochs, "train.device": device,
                            "audio_encoder.name": run.audio, "text_encoder.name": run.text,
                            "fusion.kind": run.fusion}
    if cache_dir:
        sets["data.cache_dir"] = cache_dir
    if threads:
        sets["train.num_threads"] = threads
    if run.audio == "passt":
        sets.update(PASST)
    if run.text == "hf":
        sets.update({"text_encoder.path": str(hf_path), "text_encoder.pooling": "mean"})
    return TrialConfig.load("synthcaps-tiny").with_overrides(sets)


# --------------------------------------------------------------------------------------------- one run
def autocast_probe(run_dir: Path, device: str, amp: bool) -> str:
    """The dtype of the score matrix the trained model of ``run_dir`` produces under the training loop's autocast
    context (:func:`retrieval.train.autocast`, on when ``amp``): ``float16`` when mixed precision acts."""
    import torch

    from retrieval.evaluation import load_run_model
    from retrieval.train import autocast

    cfg, model = load_run_model(run_dir, device=device)
    dev = torch.device(device)
    x = torch.randn(2, cfg.features.n_mels, 125, device=dev)
    lengths = torch.tensor([125, 90], device=dev)
    with torch.no_grad(), autocast(dev, amp):
        items = model.encode_items(x, lengths, ["rain wind", ""] if model.uses_metadata else None)
        scores = model.scores(model.encode_queries(["a dog barks", "rain on a roof"]), items)
    return str(scores.dtype).replace("torch.", "")


def train_once(cfg, run_dir: Path, device: str) -> dict[str, Any]:
    """Train ``cfg`` in ``run_dir`` and collect what the check compares and reports."""
    import torch

    from retrieval.train import fit

    cuda = device == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    result = fit(cfg, run_dir, resume=False)
    if cuda:
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    train_s = [float(h["train_time_s"]) for h in result.history]
    amp = bool(result.extra["device"]["amp"])
    return {"device": result.extra["device"]["type"], "amp": amp,
            "autocast_dtype": autocast_probe(run_dir, device, amp),
            "peak_memory_bytes": int(torch.cuda.max_memory_allocated()) if cuda else None,
            "wall_s": wall, "train_s": train_s, "train_s_per_epoch": train_s[1] if len(train_s) > 1 else train_s[0],
            "first_epoch_loss": float(result.history[0]["loss"]),
            "losses": [float(h["loss"]) for h in result.history],
            "val_map10": float(result.val["val_map10"]), "test_map10": float(result.test["test_map10"]),
            "epochs": result.epochs_trained, "fingerprint": result.fingerprint}


def compare(dev: dict[str, Any], ref: dict[str, Any], tolerance: dict[str, float]) -> dict[str, Any]:
    """Differences of a device run from its reference and whether they are within ``tolerance``."""
    loss_rel = abs(dev["first_epoch_loss"] - ref["first_epoch_loss"]) / max(abs(ref["first_epoch_loss"]), 1e-12)
    val_abs = abs(dev["val_map10"] - ref["val_map10"])
    test_abs = abs(dev["test_map10"] - ref["test_map10"])
    ok = (loss_rel <= tolerance["first_epoch_loss_rel"] and val_abs <= tolerance["map10_abs"]
          and test_abs <= tolerance["map10_abs"] and all(math.isfinite(v) for v in dev["losses"]))
    return {"first_epoch_loss_rel": loss_rel, "val_map10_abs": val_abs, "test_map10_abs": test_abs,
            "within_tolerance": bool(ok),
            "speed_ratio": ref["train_s_per_epoch"] / max(dev["train_s_per_epoch"], 1e-9)}


# --------------------------------------------------------------------------------------------- the study
def run_check_study(device: str, epochs: int, cache_dir: str | None, work: Path) -> dict[str, Any]:
    """The study of :data:`STUDY_SPEC` through the real runner: two trials, ``gpu: 0.5`` each on CUDA (``0`` on
    the CPU); what Optuna recorded, where each trial trained, and whether the two overlapped in time."""
    import optuna

    from studies.runner import run_study

    gpu = 0.5 if device == "cuda" else 0
    overrides: dict[str, Any] = {"resources.gpu": gpu, "budget.max_epochs": epochs}
    if cache_dir:
        overrides["base.data.cache_dir"] = cache_dir
    runs_dir = work / "study"
    t0 = time.perf_counter()
    summary = run_study(STUDY_SPEC, overrides, runs_dir=runs_dir, out=io.StringIO())
    wall = time.perf_counter() - t0
    storage = f"sqlite:///{runs_dir / 'gpu_check_study' / 'optuna.db'}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="gpu_check_study", storage=storage)
    trials = []
    for t in study.get_trials(deepcopy=False):
        run_dir = t.user_attrs.get("run_dir")
        extra: dict[str, Any] = {}
        try:
            extra = json.loads((Path(run_dir) / "metrics.json").read_text()).get("extra", {}) if run_dir else {}
        except (OSError, ValueError):
            pass
        where = extra.get("device") or {}
        trials.append({"number": t.number, "state": t.state.name, "value": t.value, "params": dict(t.params),
                       "device": where.get("type"), "amp": where.get("amp"),
                       "start": t.datetime_start.timestamp() if t.datetime_start else None,
                       "end": t.datetime_complete.timestamp() if t.datetime_complete else None})
    spans = [(t["start"], t["end"]) for t in trials if t["start"] is not None and t["end"] is not None]
    overlap = len(spans) == 2 and max(s for s, _ in spans) < min(e for _, e in spans)
    complete = sum(t["state"] == "COMPLETE" for t in trials)
    on_device = all(t["device"] == device and (t["amp"] if device == "cuda" else not t["amp"]) for t in trials)
    return {"spec": str(STUDY_SPEC.name), "resources": {"cpu": 1, "gpu": gpu, "max_concurrent": 2},
            "epochs": epochs, "wall_s": wall, "trials": trials, "complete": complete, "overlapped": bool(overlap),
            "message": summary.message.splitlines()[0] if summary.message else "",
            "ok": bool(complete == 2 and len(trials) == 2 and on_device)}


# --------------------------------------------------------------------------------------------- the check
def run(device: str = "cuda", *, quick: bool = False, epochs: int | None = None, cache_dir: str | None = None,
        out_dir: str | Path = "benchmarks/results", study: bool = True, threads: int | None = None,
        progress: bool = True) -> dict[str, Any]:
    """The whole check (see the module docstring); writes the JSON and Markdown and returns the JSON's content.
    ``threads``: torch threads of every run (default: torch's own)."""
    import torch

    from retrieval.data.loading import load_run_data

    if device not in ("cuda", "cpu"):
        raise UsageError(f"--device: expected cuda or cpu, got {device!r}")
    if device == "cuda" and (why := cuda_ready()):
        raise UsageError(why)
    epochs = epochs if epochs is not None else (1 if quick else 2)
    if epochs < 1:
        raise UsageError(f"--epochs: must be >= 1, got {epochs}")
    runs = QUICK_RUNS if quick else FULL_RUNS
    tolerance = GPU_TOLERANCE if device == "cuda" else CPU_TOLERANCE
    say = (lambda msg: print(msg, flush=True)) if progress else (lambda msg: None)
    _quiet_transformers()
    t_start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    results: list[dict[str, Any]] = []
    try:
        # generate SynthCaps tiny and cache its log-mels once, outside the timed runs; the hf folder from its captions
        data = load_run_data(run_config(CheckRun("cnn10", "tiny-bert", "none"), device="cpu", epochs=epochs,
                                        cache_dir=cache_dir, hf_path=None))
        captions = [c for r in data.train.split.recordings for c in r.captions]
        hf_path = make_hf_folder(work / "hf-bert", captions) if any(r.text == "hf" for r in runs) else None
        if device == "cuda":  # CUDA's lazy start outside the first run's timing
            torch.zeros(1, device="cuda").sum().item()
        for run_ in runs:
            say(f"gpu_check: {run_.name} on {device} ...")
            dev = train_once(run_config(run_, device=device, epochs=epochs, cache_dir=cache_dir, hf_path=hf_path,
                                        threads=threads), work / f"{run_.name}-{device}", device)
            say(f"gpu_check: {run_.name} on cpu (reference) ...")
            ref = train_once(run_config(run_, device="cpu", epochs=epochs, cache_dir=cache_dir, hf_path=hf_path,
                                        threads=threads), work / f"{run_.name}-cpu-reference", "cpu")
            results.append({"name": run_.name, "audio_encoder": run_.audio, "text_encoder": run_.text,
                            "fusion": run_.fusion, "device_run": dev, "reference_run": ref,
                            "comparison": compare(dev, ref, tolerance)})
        study_result = None
        if study:
            say(f"gpu_check: study, 2 trials at once (resources.gpu={0.5 if device == 'cuda' else 0}) ...")
            study_result = run_check_study(device, epochs, cache_dir, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    facts = device_facts(device)
    amp_ok = all(r["device_run"]["amp"] and r["device_run"]["autocast_dtype"] == "float16" for r in results) \
        if device == "cuda" else all(not r["device_run"]["amp"] for r in results)
    ok = (all(r["comparison"]["within_tolerance"] for r in results) and amp_ok
          and (study_result is None or study_result["ok"]))
    payload = {
        "benchmark": "gpu_check", "device": device, "device_name": facts["device_name"], "quick": quick,
        "epochs": epochs, "reference": "cpu" if device == "cuda" else "cpu (a second run: determinism)",
        "tolerance": tolerance, "amp_active": bool(device == "cuda" and amp_ok), "device_facts": facts,
        "machine": machine(), "runs": results, "study": study_result, "ok": bool(ok),
        "wall_s": time.perf_counter() - t_start,
    }
    md = markdown_report(payload)
    name = "gpu_check" + ("_cpu" if device == "cpu" else "") + ("_quick" if quick else "")
    jpath, mpath = write_results(out_dir, name, payload, md)
    say(md)
    say(f"wrote {jpath} and {mpath}")
    return payload


def _quiet_transformers() -> None:
    """No progress bars from saving and loading the hf folder (they fill the log, not the results)."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers is a dependency
        pass


def markdown_report(p: dict[str, Any]) -> str:
    dev = p["device"]
    ref_label = "cpu" if dev == "cuda" else "cpu again"
    m = p["machine"]
    md = (f"# gpu_check: {p['device_name']} ({dev})\n\n"
          f"{m['date']}, torch {m['torch']} (CUDA {p['device_facts']['torch_cuda'] or '-'}), {m['cpus']} CPUs "
          f"({p['device_facts']['cpu_model']}), torch threads {m['torch_threads']}, git {m['git_commit'] or '-'}; "
          f"SynthCaps tiny, {p['epochs']} epoch(s) per run{', --quick' if p['quick'] else ''}; reference: "
          f"{p['reference']}; wall {p['wall_s']:.0f} s. **{'OK' if p['ok'] else 'FAILED'}**.\n\n")
    tol = p["tolerance"]
    md += (f"Tolerance: first-epoch loss within {tol['first_epoch_loss_rel']:.0%} (relative), mAP@10 within "
           f"{tol['map10_abs']} (absolute).\n\n")
    rows = []
    for r in p["runs"]:
        d, ref, c = r["device_run"], r["reference_run"], r["comparison"]
        mem = f"{d['peak_memory_bytes'] / 2**20:.0f}" if d["peak_memory_bytes"] is not None else "-"
        rows.append([r["name"], f"{d['amp']} ({d['autocast_dtype']})", d["first_epoch_loss"], ref["first_epoch_loss"],
                     c["first_epoch_loss_rel"], d["val_map10"], ref["val_map10"], d["test_map10"], ref["test_map10"],
                     d["train_s_per_epoch"], ref["train_s_per_epoch"], c["speed_ratio"], mem,
                     "yes" if c["within_tolerance"] else "**no**"])
    md += markdown_table(["run", "AMP (score dtype)", f"1st-epoch loss, {dev}", ref_label, "rel. diff",
                          f"val mAP@10, {dev}", ref_label, f"test mAP@10, {dev}", ref_label,
                          f"train s/epoch, {dev}", ref_label, f"time {ref_label} / {dev}", "peak GPU MiB", "within"],
                         rows)
    s = p["study"]
    if s is not None:
        md += (f"\n## Study: 2 trials, resources.gpu={s['resources']['gpu']} each, max_concurrent 2\n\n"
               f"{s['complete']} of {len(s['trials'])} trials COMPLETE in the Optuna study; trials overlapped in "
               f"time: {s['overlapped']}; wall {s['wall_s']:.0f} s. **{'OK' if s['ok'] else 'FAILED'}**.\n\n")
        md += markdown_table(["trial", "state", "params", "val mAP@10", "device", "AMP", "s"],
                             [[t["number"], t["state"], json.dumps(t["params"]), t["value"] if t["value"] is not None
                               else "-", t["device"], t["amp"],
                               (t["end"] - t["start"]) if t["start"] and t["end"] else "-"] for t in s["trials"]])
    return md


@command_line
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks gpu_check", description=__doc__.splitlines()[0])
    p.add_argument("--device", required=True, choices=["cuda", "cpu"],
                   help="cuda: the check (CPU runs are the reference); cpu: the same on the CPU (determinism)")
    p.add_argument("--quick", action="store_true", help="two runs (cnn10, passt) and 1 epoch")
    p.add_argument("--epochs", type=int, default=None, help="epochs per run (default 2; 1 with --quick)")
    p.add_argument("--no-study", dest="study", action="store_false", help="leave out the 2-trial study")
    p.add_argument("--cache-dir", default=None, help="data.cache_dir of every run (default: the harness's)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per run (default: torch's own)")
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads: must be >= 1, got {args.threads}")
    payload = run(args.device, quick=args.quick, epochs=args.epochs, cache_dir=args.cache_dir, out_dir=args.out,
                  study=args.study, threads=args.threads, progress=not args.quiet)
    if not payload["ok"]:
        print("gpu_check: FAILED (see the table: a run outside its tolerance, AMP not active, or the study)")
        return 1
    return 0
