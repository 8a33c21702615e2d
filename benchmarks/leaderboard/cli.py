"""Leaderboard: score DCASE retrieval submissions and keep persistent, ranked boards.

Usage::

    python -m benchmarks leaderboard score --ground-truth GT --submission SUB [--k K] [--eval-files FILES]
                                           [--json] [--allow-missing] [--per-query OUT.csv]
    python -m benchmarks leaderboard submit --board NAME --team T --system S (--submission SUB | --run RUN_DIR
                                            [--split SPLIT]) --ground-truth GT [--k K] [--eval-files FILES]
                                            [--allow-missing] [--replace] [--boards URL] [--json]
    python -m benchmarks leaderboard show NAME [--format md|latex|csv|html] [--out DIR] [--k K] [--history]
                                          [--boards URL] [--resamples N] [--seed N] [--alpha A]
    python -m benchmarks leaderboard list [--boards URL]

A submission is a top-k list (``caption,fname_1..fname_L``, ``L >= k``) or a score matrix (queries x evaluation
files, the DCASE 2025 baseline's prediction CSV). ``--k`` is the cut-off of mAP@k (default 10; a board keeps the k
it was created with).

Bad input (a malformed file, a refused submission) prints ``error: ...`` to stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

from retrieval.errors import UsageError, command_line

from .formats import LeaderboardError

PROG = "python -m benchmarks leaderboard"


def _load_gt(path: Path, eval_files: Path | None = None):
    from .formats import read_eval_files, read_ground_truth

    gt = read_ground_truth(path)
    if eval_files is not None:
        gt = gt.with_eval_files(read_eval_files(eval_files), source=str(eval_files))
    return gt


def _score_file(gt, submission: Path, allow_missing: bool, data: bytes | None = None, k: int = 10):
    from .scoring import score_submission
    from .submissions import read_submission

    return score_submission(gt, read_submission(submission, gt, allow_missing=allow_missing, data=data, k=k), k=k)


def _print_summary(result, gt_path, sub_label) -> None:
    s = result.summary()
    gt = result.ground_truth
    other = f", {gt.n_other} relevant to no query" if gt.n_other else ""
    print(f"ground truth  {gt_path} ({gt.format}: {s['n_queries']} queries, {s['n_files']} files{other}, "
          f"fingerprint {s['fingerprint'][:16]}…)")
    layout = (f"score matrix, {s['depth']} file columns, {s['n_ties']} query rows with a tied relevant score"
              if s["header"] == "matrix" else f"header {s['header']}, top {s['depth']}")
    print(f"submission    {sub_label} ({s['n_queries'] - s['n_missing']} queries ranked, {s['n_missing']} missing; "
          f"{layout})")
    print(f"file names    {s['n_reduced']} reduced to their base name (directory prefix dropped), "
          f"{s['n_respelled']} matched in another spelling")
    k = s["k"]
    print(f"{f'mAP@{k}':<7} {s[f'map{k}']:.4f}")
    if k != 10:
        print(f"mAP@10  {s['map10']:.4f}")
    for kk in (1, 5, 10):
        print(f"R@{kk:<5} {s[f'r{kk}']:.4f}")


def cmd_score(args) -> int:
    from .kcut import check_k

    k = check_k(10 if args.k is None else args.k)
    gt = _load_gt(args.ground_truth, args.eval_files)
    result = _score_file(gt, args.submission, args.allow_missing, k=k)
    if args.per_query:
        result.write_per_query(args.per_query)
    if args.json:
        print(json.dumps({**result.summary(), "ground_truth": str(args.ground_truth),
                          "submission": str(args.submission),
                          "per_query": str(args.per_query) if args.per_query else None},
                         indent=2))
    else:
        _print_summary(result, args.ground_truth, args.submission)
        if args.per_query:
            print(f"per-query results: {args.per_query}")
    return 0


def _board_k(boards: str | None, board: str, asked: int | None) -> tuple[int, list[str] | None]:
    """The k to score at -- the board's (``--k`` must agree), or ``--k`` / 10 for a new board -- and, for an existing
    board, its evaluation files relevant to no query. Creates nothing (a refused submission leaves no database)."""
    from .board import BoardError, BoardStore, resolve_boards_url
    from .kcut import DEFAULT_K, check_k

    url = resolve_boards_url(boards)
    if not (url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists()):
        with BoardStore(url, create=False) as store:
            if board.strip() in store.board_names():
                info = store.get_board(board.strip())
                if asked is not None and asked != info.k:
                    raise BoardError(f"board {info.name!r} ranks by mAP@{info.k} (k={info.k}, set when it was "
                                     f"created): --k {asked} does not fit it; leave --k out, or use another board "
                                     f"for mAP@{asked}")
                return info.k, store.other_files(info.name)
    return check_k(DEFAULT_K if asked is None else asked), None


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError as exc:
        raise LeaderboardError(f"{path}: cannot read the submission: {exc.strerror or exc}") from None
    return h.hexdigest()


def cmd_submit(args) -> int:
    from .board import BoardStore

    gt = _load_gt(args.ground_truth, args.eval_files)
    k, other_files = _board_k(args.boards, args.board, args.k)
    if other_files and not gt.n_other:  # the board remembers its evaluation set
        gt = gt.with_eval_files([*gt.files, *other_files], source=f"board {args.board!r}")
    if args.run is not None:
        from retrieval.submission import export_run, submission_text

        exported = export_run(args.run, args.split, progress=False, top_k=k)
        data = submission_text(exported.rows, k=k).encode("utf-8")
        label = f"run {args.run} (split {exported.split})"
        result = _score_file(gt, Path(label), args.allow_missing, data=data, k=k)
        source = f"run:{Path(args.run).resolve()}#split={exported.split}"
        digest = hashlib.sha256(data).hexdigest()
    else:
        digest = _sha256_file(args.submission)
        label = str(args.submission)
        result = _score_file(gt, args.submission, args.allow_missing, k=k)
        source = str(args.submission.resolve())
    with BoardStore(args.boards) as store:
        entry = store.submit(args.board, gt, result, team=args.team, system=args.system, source=source,
                             source_sha256=digest, replace=args.replace)
        url = store.url
    if args.json:
        print(json.dumps({"board": entry.board, "entry_id": entry.id, "team": entry.team, "system": entry.system,
                          **result.summary(), "boards": _redacted(url)}, indent=2))
    else:
        _print_summary(result, args.ground_truth, label)
        print(f"stored as entry #{entry.id} of board {entry.board!r} ({entry.team} / {entry.system}) in "
              f"{_redacted(url)}")
    return 0


def _redacted(url: str) -> str:
    from .board import redact

    return redact(url)


def _safe_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "board"


def cmd_show(args) -> int:
    from .board import BoardError, BoardStore

    with BoardStore(args.boards, create=False) as store:
        info = store.get_board(args.name)
        if args.k is not None and args.k != info.k:
            raise BoardError(f"board {info.name!r} ranks by mAP@{info.k} (k={info.k}, set when it was created): "
                             f"--k {args.k} does not fit it; leave --k out")
        history = store.entries(args.name, include_superseded=True)
        mapping = store.ground_truth_mapping(args.name) if args.format == "html" or args.out is not None else None
    entries = [e for e in history if e.status == "active"]
    if args.history:
        from benchmarks.common import markdown_table

        rows = [[e.id, e.team, e.system, e.status, f"{e.map_k:.4f}", e.submitted_at, e.replaced_by or "", e.source,
                 "" if e.n_reduced is None else e.n_reduced] for e in history]
        print(markdown_table(["Entry", "Team", "System", "Status", f"mAP@{info.k}", "Submitted", "Replaced by",
                              "Source", "Reduced names"], rows), end="")
        return 0
    from .tables import (bootstrap_ci, csv_table, figure_bytes, latex_table, markdown_report, standings,
                         standings_figure)

    ranked = standings(entries, n_resamples=args.resamples, seed=args.seed, alpha=args.alpha)
    opts = {"n_resamples": args.resamples, "seed": args.seed, "alpha": args.alpha}
    texts = {"md": markdown_report(info, ranked, **opts), "latex": latex_table(info, ranked, **opts),
             "csv": csv_table(info, ranked)}
    page = None
    if args.format == "html" or args.out is not None:
        from .html import render_page

        cis = [bootstrap_ci(s, n_resamples=args.resamples, seed=args.seed) for s in ranked]
        fig = standings_figure(info, ranked, cis=cis, **opts)
        png = figure_bytes(fig, "png")
        page = render_page(info, ranked, history, mapping, cis=cis, figure_png=png, **opts)
    if args.format == "html":
        if args.out is None:
            print(page, end="")
    else:
        print(texts[args.format], end="")
    if args.out is not None:
        from retrieval.utils import atomic_write_bytes, atomic_write_text

        stem = args.out / _safe_stem(info.name)
        for fmt, ext in (("md", "md"), ("latex", "tex"), ("csv", "csv")):
            atomic_write_text(stem.with_suffix(f".{ext}"), texts[fmt])
        atomic_write_bytes(stem.with_suffix(".png"), png)
        atomic_write_bytes(stem.with_suffix(".pdf"), figure_bytes(fig, "pdf"))
        atomic_write_text(stem.with_suffix(".html"), page)
        print(f"wrote {stem}.{{md,tex,csv,png,pdf,html}}", file=sys.stderr)
    return 0


def cmd_list(args) -> int:
    from benchmarks.common import markdown_table

    from .board import BoardStore

    with BoardStore(args.boards, create=False) as store:
        boards = store.list_boards()
    rows = [[b.name, b.n_entries, b.n_queries, b.n_files, b.fingerprint[:16] + "…", b.created_at, b.k]
            for b in boards]
    print(markdown_table(["Board", "Entries", "Queries", "Files", "Fingerprint", "Created", "k"], rows), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    boards_help = ("boards database: sqlite:///PATH or postgresql://USER@HOST/DB (default: $LEADERBOARD_DB, else "
                   "sqlite:///runs/leaderboards/boards.db)")

    k_help = ("the cut-off of mAP@k (default 10; DCASE 2025: 16); R@1/5/10 and mAP@10 are reported too; a top-k "
              "list needs at least k columns")
    eval_help = ("the whole evaluation set, when it holds files that no query is relevant for (DCASE 2025: the "
                 "1,045 Clotho evaluation files, metadata_eval.csv names 1,006): a CSV with a file_name column "
                 "(clotho_captions_evaluation.csv) or one name per line")
    p = sub.add_parser("score", help="score a DCASE submission against a ground truth")
    p.add_argument("--ground-truth", required=True, type=Path, metavar="GT.csv", help="Clotho captions CSV "
                   "(file_name,caption_1..caption_5) or multi-positive CSV (query,audio_filenames)")
    p.add_argument("--submission", required=True, type=Path, metavar="SUB.csv",
                   help="a top-k list (caption,file_name_1..file_name_L or caption,fname_1..fname_L, L >= k) or a "
                   "score matrix (first column the queries, one column per evaluation file)")
    p.add_argument("--k", type=int, default=None, metavar="K", help=k_help)
    p.add_argument("--eval-files", type=Path, default=None, metavar="FILES", help=eval_help)
    p.add_argument("--json", action="store_true", help="print a JSON object instead of the text summary")
    p.add_argument("--allow-missing", action="store_true", help="score ground-truth queries without a row as 0 "
                   "instead of refusing the submission")
    p.add_argument("--per-query", type=Path, metavar="OUT.csv", help="write per-query results "
                   "(query,relevant,submission_row,missing,rank,ap{k}[,ap10],r1,r5,r10[,tied])")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("submit", help="score a submission (or a trained run) and store it on a board")
    p.add_argument("--board", required=True, help="board name (created, bound to GT, by its first entry)")
    p.add_argument("--team", required=True)
    p.add_argument("--system", required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--submission", type=Path, metavar="SUB.csv", help="a top-k list or a score matrix CSV")
    src.add_argument("--run", type=Path, metavar="RUN_DIR",
                     help="a trained run directory (its top-k list at the board's k, as python -m retrieval evaluate "
                     "--top-k K exports it)")
    p.add_argument("--split", default=None, help="with --run: the split to rank (default: the run's test split)")
    p.add_argument("--ground-truth", required=True, type=Path, metavar="GT.csv")
    p.add_argument("--k", type=int, default=None, metavar="K", help="the cut-off of mAP@k: a new board is created "
                   "with it (default 10); an existing board's k is used, and --k must agree with it")
    p.add_argument("--eval-files", type=Path, default=None, metavar="FILES", help=eval_help + "; a board created "
                   "with it remembers it")
    p.add_argument("--allow-missing", action="store_true", help="score ground-truth queries without a row as 0")
    p.add_argument("--replace", action="store_true", help="supersede this team's entry for this system (the old "
                   "entry is kept, marked superseded)")
    p.add_argument("--boards", default=None, metavar="URL", help=boards_help)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("show", help="rank a board's entries with significance against the leader")
    p.add_argument("name", help="board name")
    p.add_argument("--format", choices=["md", "latex", "csv", "html"], default="md",
                   help="what to print (default md; html: the self-contained page, printed unless --out is given)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="also write NAME.md, NAME.tex, NAME.csv, the plot NAME.png / NAME.pdf and the page NAME.html "
                   "into DIR")
    p.add_argument("--k", type=int, default=None, metavar="K", help="the board's k (checked; default: the board's)")
    p.add_argument("--history", action="store_true", help="list every entry, superseded ones included, instead")
    p.add_argument("--resamples", type=int, default=10_000, help="randomization-test / bootstrap resamples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--alpha", type=float, default=0.05, help="significance level of the leader group")
    p.add_argument("--boards", default=None, metavar="URL", help=boards_help)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("list", help="list the boards")
    p.add_argument("--boards", default=None, metavar="URL", help=boards_help)
    p.set_defaults(func=cmd_list)
    return parser


@command_line(also=(OSError,))  # OSError: an output path that cannot be written, ...
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "split", None) is not None and getattr(args, "run", None) is None:
        raise UsageError("--split goes with --run")
    if getattr(args, "resamples", 1) < 1 or not 0 < getattr(args, "alpha", 0.5) < 1:
        raise UsageError("--resamples must be >= 1 and --alpha in (0, 1)")
    try:
        return args.func(args)
    except Exception as exc:  # a database failure after the store opened (server gone, disk full, ...)
        if not type(exc).__module__.startswith("sqlalchemy"):
            raise
        from .board import BoardError, redact

        raise BoardError(f"boards database: {type(exc).__name__}: {redact(str(exc).splitlines()[0])}") from None
