"""The README's tour cannot go stale silently.

Every ``python -m PKG COMMAND [SUB]`` that README.md names (in a code block, or an inline code span that starts with
it) answers ``--help`` with exit 0 and a usage line naming the command, and every ``--option`` the README gives it
is in that help. Every relative link of README.md and of docs/*.md points to a file that exists and, with a
``#fragment`` into a Markdown file, to a heading that exists there (GitHub's anchor rule).

One subprocess per distinct command (about 20, each well under a second: the command lines import their heavy
modules only when they run).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PACKAGES = ("retrieval", "studies", "reports", "benchmarks")
#: A subcommand is a lowercase word; the first token that is not one (a path, NAME, an option) ends the command.
SUBCOMMAND = re.compile(r"[a-z][a-z_]*")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
FENCE = re.compile(r"^\s*```")
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")


def split_markdown(text: str) -> tuple[list[str], list[str]]:
    """(lines of fenced code blocks, lines of prose) of a Markdown text."""
    code, prose, fenced = [], [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif fenced:
            code.append(line)
        else:
            prose.append(line)
    return code, prose


def shell_lines(lines: list[str]) -> list[str]:
    """Lines with their backslash continuations joined."""
    out: list[str] = []
    pending = ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        out.append(pending + line)
        pending = ""
    if pending:
        out.append(pending)
    return out


def tokens_of(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:  # an unbalanced quote in a placeholder: fall back to words before a comment
        return line.split(" #", 1)[0].split()


def python_m_commands(tokens: list[str]) -> list[tuple[tuple[str, ...], set[str]]]:
    """Each ``python -m PKG SUB...`` in a token list: (PKG + subcommands, the options given to it)."""
    found = []
    for i in range(len(tokens) - 2):
        if Path(tokens[i]).name not in ("python", "python3") or tokens[i + 1] != "-m" or tokens[i + 2] not in PACKAGES:
            continue
        command = [tokens[i + 2]]
        j = i + 3
        while j < len(tokens) and len(command) < 3 and SUBCOMMAND.fullmatch(tokens[j]):
            command.append(tokens[j])
            j += 1
        options: set[str] = set()
        while j < len(tokens) and tokens[j] not in ("&&", "||", ";"):
            options.update(OPTION.findall(tokens[j]))
            j += 1
        found.append((tuple(command), options))
    return found


def readme_commands(text: str) -> dict[tuple[str, ...], set[str]]:
    """Every command the README names, with the union of the options it gives each."""
    code, prose = split_markdown(text)
    lines = shell_lines(code)
    for line in prose:
        lines += [span for _, span in INLINE_CODE.findall(line) if span.lstrip().startswith("python -m ")]
    commands: dict[tuple[str, ...], set[str]] = {}
    for line in lines:
        for command, options in python_m_commands(tokens_of(line)):
            commands.setdefault(command, set()).update(options)
    return commands


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


def test_the_readme_names_the_tour():
    # the parser found the tour (a change of the README's code blocks must not make the test below vacuous)
    for expected in [("retrieval", "train"), ("retrieval", "synth"), ("studies", "run"), ("studies", "status"),
                     ("reports", "build"), ("reports", "verify"), ("reports", "compare"),
                     ("benchmarks", "leaderboard", "score"), ("benchmarks", "leaderboard", "submit"),
                     ("benchmarks", "leaderboard", "show"), ("benchmarks", "perf")]:
        assert expected in COMMANDS, f"the README's tour no longer names python -m {' '.join(expected)}"
    assert {"--dry-run", "--set"} <= COMMANDS[("studies", "run")]
    assert "--format" in COMMANDS[("benchmarks", "leaderboard", "show")]


def test_the_parser_reads_commands_subcommands_and_options():
    text = ("Run `python -m studies status SPEC` first.\n```bash\n"
            "HF_HUB_OFFLINE=1 .venv/bin/python -m retrieval data summary --dataset clotho \\\n"
            "  --root R [--json]  # x --no\n"
            "python -m benchmarks leaderboard show NAME [--format md|html] && python -m reports verify runs/r\n"
            "optuna trials --study-name quick\n```\n")
    assert readme_commands(text) == {("studies", "status"): set(),
                                     ("retrieval", "data", "summary"): {"--dataset", "--root", "--json"},
                                     ("benchmarks", "leaderboard", "show"): {"--format"},
                                     ("reports", "verify"): set()}


@pytest.mark.parametrize("command", sorted(COMMANDS), ids=" ".join)
def test_every_readme_command_answers_help(command):
    env = dict(os.environ, HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    proc = subprocess.run([sys.executable, "-m", *command, "--help"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    shown = "python -m " + " ".join(command)
    assert proc.returncode == 0, f"{shown} --help exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    usage = proc.stdout.strip()
    assert usage.startswith("usage:") and shown in usage.splitlines()[0], f"{shown} --help printed:\n{usage}"
    missing = sorted(o for o in COMMANDS[command] if not re.search(re.escape(o) + r"(?![\w-])", usage))
    assert not missing, f"the README gives {shown} options its --help does not know: {missing}"


def heading_anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file (lowercase; punctuation dropped; spaces -> '-';
    a repeated anchor gets -1, -2, ...)."""
    _, prose = split_markdown(path.read_text(encoding="utf-8"))
    anchors: set[str] = set()
    for line in prose:
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)).replace("`", "")
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in anchors:
            n += 1
            anchor = f"{slug}-{n}"
        anchors.add(anchor)
    return anchors


def broken_links(path: Path) -> list[str]:
    _, prose = split_markdown(path.read_text(encoding="utf-8"))
    broken = []
    for line in prose:
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto: ...
                continue
            file_part, _, fragment = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            if not dest.exists():
                broken.append(f"{target}: no such file")
            elif fragment and dest.suffix == ".md" and fragment not in heading_anchors(dest):
                broken.append(f"{target}: no heading #{fragment} in {file_part or path.name}")
    return broken


def test_every_relative_link_of_the_readme_points_to_an_existing_file():
    assert not broken_links(README)


@pytest.mark.parametrize("doc", sorted(p.name for p in (ROOT / "docs").glob("*.md")))
def test_every_relative_link_of_the_docs_points_to_an_existing_file(doc):
    assert not broken_links(ROOT / "docs" / doc)


def test_the_link_checker_finds_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "a.md").write_text("# Set-up: two commands\n\n## `data summary` (+ more)\n", encoding="utf-8")
    doc = tmp_path / "b.md"
    doc.write_text("[ok](a.md#set-up-two-commands) [ok](a.md#data-summary--more) [web](https://x.org/y)\n"
                   "[gone](c.md) [old](a.md#results) `[code](nowhere.md)`\n```\n[fenced](nowhere.md)\n```\n",
                   encoding="utf-8")
    assert broken_links(doc) == ["c.md: no such file", "a.md#results: no heading #results in a.md"]


def config_keys(cls: type, prefix: str = "") -> list[str]:
    """The dotted leaf keys of a config dataclass (``data.clotho.root``, ``train.epochs`` ...)."""
    import dataclasses

    keys = []
    for f in dataclasses.fields(cls):
        sub = f.default_factory if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
        if isinstance(sub, type) and dataclasses.is_dataclass(sub):
            keys += config_keys(sub, f"{prefix}{f.name}.")
        else:
            keys.append(prefix + f.name)
    return keys


def test_the_configuration_doc_names_every_key():
    # the README's old table left out data.synth_version and text_encoder.vocab_augment_passes: the table in
    # docs/configuration.md names every key of TrialConfig in its section's row (as `key`, `sub.key`, or the
    # shorthand `sub.key`/`other`)
    from retrieval.config.schema import TrialConfig

    rows = {}
    for line in (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `(\w+)` \| (.*) \|$", line)
        if m:
            rows[m.group(1)] = set(re.findall(r"`([\w.]+)`", m.group(2)))
    keys = config_keys(TrialConfig)
    assert "data.synth_version" in keys and "text_encoder.vocab_augment_passes" in keys
    missing = []
    for key in keys:
        section, *rest = key.split(".")
        if not ({".".join(rest), rest[-1]} & rows.get(section, set())):
            missing.append(key)
    assert not missing, f"docs/configuration.md does not name: {missing}"
