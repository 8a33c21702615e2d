"""Command line: ``python -m retrieval {train,evaluate,synth,data,config} ...``.

Heavy imports (torch, transformers) happen inside the commands, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import HarnessError, UsageError, command_line


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="a named config (synthcaps-tiny, synthcaps-small, synthcaps) "
                   "or a YAML file (a run's config.yaml works too)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a dotted config key, e.g. --set fusion.kind=late (repeatable)")


def _load_config(args):
    from .config import TrialConfig, parse_override

    cfg = TrialConfig.load(args.config)
    if args.overrides:
        cfg = cfg.with_overrides(dict(parse_override(o) for o in args.overrides))
    return cfg


def cmd_train(args) -> int:
    from .train import fit

    cfg = _load_config(args)
    if args.quiet:
        cfg = cfg.with_overrides({"train.progress": False})
    if args.device is not None:
        cfg = cfg.with_overrides({"train.device": args.device})
    result = fit(cfg, args.out, resume=not args.no_resume)
    t = result.test
    print(f"best epoch {result.best_epoch} of {result.epochs_trained} ({result.stopped}), "
          f"{result.wall_time_s:.0f} s")
    print(f"val  mAP@10 {result.val['val_map10']:.4f}")
    print(f"test mAP@10 {t['test_map10']:.4f}  R@1 {t['test_r1']:.4f}  R@5 {t['test_r5']:.4f}  "
          f"R@10 {t['test_r10']:.4f}  median rank {t['test_median_rank']:.0f}")
    print(f"run directory: {result.run_dir}")
    return 0


def cmd_evaluate(args) -> int:
    from .submission import export_run, summary_line

    if args.submission is None and args.ground_truth is None:
        raise UsageError("nothing to write: give --submission OUT.csv and/or --ground-truth GT.csv")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available")
    try:
        if args.top_k is not None and args.scores:
            raise UsageError("--top-k and --scores are two layouts of the submission: give one")
        if args.top_k is not None and not 1 <= args.top_k <= 1000:
            raise UsageError(f"--top-k {args.top_k}: give a length from 1 to 1000")
        if (args.top_k is not None or args.scores) and args.submission is None:
            raise UsageError("--top-k / --scores say how to write --submission OUT.csv: give it")
        result = export_run(args.run, args.split, submission=args.submission, ground_truth=args.ground_truth,
                            data_root=args.data_root, device=args.device, progress=not args.quiet,
                            top_k=args.top_k or 10, scores=args.scores)
    except HarnessError:
        raise  # reported by main()
    except (OSError, ValueError) as exc:  # an unwritable output path, NaN scores ...
        raise HarnessError(str(exc)) from exc
    print(summary_line(result))
    return 0


def cmd_synth(args) -> int:
    import time

    from .data.synthcaps import generate

    if args.seed < 0:
        raise UsageError(f"--seed {args.seed}: a SynthCaps seed is an integer >= 0")
    if args.sample_rate < 8000:
        raise UsageError(f"--sample-rate {args.sample_rate}: give a sample rate of at least 8000 Hz")
    t0 = time.time()
    manifest = generate(args.out, args.size, args.seed, sample_rate=args.sample_rate, progress=not args.quiet,
                        version=args.version)
    counts = manifest.get("counts", {})
    print(f"SynthCaps {manifest['version']} {args.size} (seed {args.seed}) in {args.out}: {counts} "
          f"({time.time() - t0:.1f} s)")
    return 0


def cmd_data_summary(args) -> int:
    from .data.datasets import DATASETS, LoadOptions, summarize

    if args.dataset not in DATASETS:
        raise UsageError(f"--dataset {args.dataset!r}: known datasets are {', '.join(DATASETS)}")
    defaults = LoadOptions()
    options = LoadOptions(
        audiocaps_audio_pattern=args.audio_pattern or defaults.audiocaps_audio_pattern,
        audiocaps_labels_dir=str(args.labels_dir) if args.labels_dir else None,
        wavcaps_audio_pattern=args.audio_pattern or defaults.wavcaps_audio_pattern,
        wavcaps_exclude=str(args.exclude) if args.exclude else None)
    summary = summarize(args.dataset, args.root, options=options)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        cols = ["recordings", "captions", "with_keywords", "missing_audio", "excluded", "mean_duration_s",
                "mean_keywords", "distinct_keywords"]
        print(f"{'split':<14}" + "".join(f"{c:>18}" for c in cols))
        for split, s in summary.items():
            print(f"{split:<14}" + "".join(f"{s.get(c, ''):>18.2f}" if isinstance(s.get(c), float)
                                           else f"{s.get(c, ''):>18}" for c in cols))
        for split, s in summary.items():
            top = ", ".join(f"{k} ({n})" for k, n in s.get("top_keywords", [])[:10])
            print(f"{split}: top keywords: {top}")
    # missing audio: which files (as listed), and whether training would stop (the same lookup as training)
    fatal = False
    for split, s in summary.items():
        n = s.get("missing_audio", 0)
        if not n:
            continue
        names = ", ".join(repr(f) for f in s.get("missing_files", []))
        more = f" and {n - len(s.get('missing_files', []))} more" if n > len(s.get("missing_files", [])) else ""
        if s.get("strict"):
            fatal = True
            print(f"error: {args.dataset} {split}: {n} listed file{'s' if n != 1 else ''} without audio in "
                  f"{args.root}: {names}{more}; training on this split would stop at the first one",
                  file=sys.stderr)
        else:
            print(f"{args.dataset} {split}: {n} listed file{'s' if n != 1 else ''} without audio (left out when "
                  f"training): {names}{more}", file=sys.stderr)
    return 1 if fatal else 0


def cmd_config_show(args) -> int:
    import yaml

    cfg = _load_config(args)
    print(f"# fingerprint: {cfg.fingerprint()}")
    print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
    return 0


def cmd_config_list(args) -> int:
    from .config import list_named_configs

    print("\n".join(list_named_configs()))
    return 0


def _group(sub, name: str, help: str):
    """A command with subcommands (``python -m retrieval data summary``): its subparsers (``args.<name>_command``)."""
    return sub.add_parser(name, help=help).add_subparsers(dest=f"{name}_command", required=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m retrieval", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train one retriever and write a run directory")
    _add_config_args(p)
    p.add_argument("--out", required=True, type=Path, help="run directory (resumed if it holds an unfinished run)")
    p.add_argument("--no-resume", action="store_true", help="start from scratch even if RUN_DIR has a checkpoint")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None,
                   help="sets train.device (default: the config's, cpu); mixed precision on cuda (train.amp)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="export a trained run's rankings as a DCASE submission (top-k list or "
                       "score matrix)")
    p.add_argument("--run", required=True, type=Path, metavar="RUN_DIR",
                   help="a finished run directory (config.yaml, best.pt)")
    p.add_argument("--split", default=None, help="split to rank (default: the run's test split; 'test', 'val' "
                   "and 'train' name the run's splits, anything else a split of the data folder, e.g. evaluation)")
    p.add_argument("--submission", type=Path, metavar="OUT.csv",
                   help="write the DCASE submission CSV here: a top-k list (caption,file_name_1,...,file_name_10 "
                   "for k = 10, caption,fname_1,...,fname_K otherwise) or, with --scores, the score matrix")
    p.add_argument("--top-k", type=int, default=None, metavar="K", help="length of the top-k list (default 10; "
                   "16 for a DCASE 2025 board)")
    p.add_argument("--scores", action="store_true", help="write the DCASE 2025 score matrix instead (header "
                   "index,<file>,...; one row per distinct caption, one column per recording)")
    p.add_argument("--ground-truth", type=Path, metavar="GT.csv", help="write the split's ground truth in the "
                   "Clotho captions format (file_name,caption_1,...,caption_5) here")
    p.add_argument("--data-root", type=Path, default=None, metavar="DIR",
                   help="data folder (default: the run's own: data.root, or the SynthCaps folder in the cache)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="where to embed and score (cuda: an error if no CUDA device is available)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("synth", help="generate SynthCaps (ClothoV2 layout)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--size", default="small", choices=["tiny", "small", "default"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample-rate", type=int, default=16000)
    p.add_argument("--version", default="2.0.0", choices=["1.1.0", "2.0.0"],
                   help="generator version (default 2.0.0, with the planted effects: what the synthcaps* configs "
                        "train on; 1.1.0 is what a config that names no data.synth_version, or a -v1 config, trains "
                        "on; every version stays reproducible)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_synth)

    dsub = _group(sub, "data", "inspect data sets")
    q = dsub.add_parser("summary", help="recordings, captions, durations and keywords per split")
    q.add_argument("--dataset", required=True, help="clotho, audiocaps, wavcaps or synthcaps (the ClothoV2 "
                   "layout)")
    q.add_argument("--root", required=True, type=Path)
    q.add_argument("--audio-pattern", default=None, metavar="PATTERN", help="audiocaps/wavcaps: audio path "
                   "relative to the root (defaults: audio/{split}/{youtube_id}_{start_time}.{ext}, "
                   "audio/{source}/{id}.flac)")
    q.add_argument("--labels-dir", type=Path, default=None, metavar="DIR", help="audiocaps: folder of "
                   "class_labels_indices.csv and the AudioSet *_segments.csv files (default: the root)")
    q.add_argument("--exclude", type=Path, default=None, metavar="CSV", help="wavcaps: FreeSound ids to leave "
                   "out (column sound_id; default: every *excluded_freesound_ids.csv in the root)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_data_summary)

    csub = _group(sub, "config", "named configs")
    q = csub.add_parser("show", help="print a resolved config and its fingerprint")
    _add_config_args(q)
    q.set_defaults(func=cmd_config_show)
    q = csub.add_parser("list", help="list the named configs")
    q.set_defaults(func=cmd_config_list)
    return parser


@command_line(also=(FileExistsError,))
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
