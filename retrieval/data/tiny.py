"""Tiny, format-exact copies of ClothoV2.1, AudioCaps and WavCaps, with the quirks of the real releases (and
SynthCaps ``tiny``, generated). Each data set's entry in ``DATASETS`` names its writer (``meta["tiny"]``).

Tests (and anyone who wants to try the loaders without the real data) write them into a temporary folder::

    >>> import tempfile
    >>> from retrieval.data.datasets import load_split
    >>> from retrieval.data.tiny import write_tiny_audiocaps
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     split = load_split("audiocaps", write_tiny_audiocaps(Path(tmp) / "audiocaps"), "evaluation")
    >>> split.name, len(split.recordings), len(split.missing_audio)  # the last clip of a split has no audio
    ('test', 2, 1)

Audio is 0.5 s of 16 kHz mono (WAV or FLAC, written with soundfile): a tone whose frequency depends on the
recording plus a little noise, so a model can tell recordings apart. Everything is deterministic.

What each copy holds is documented on its function; the loader tests spell the expected counts out by hand.
"""

from __future__ import annotations

import csv
import json
import unicodedata
from pathlib import Path

import numpy as np

SR = 16000
SECONDS = 0.5


#: Twelve everyday captions (punctuation, commas, clauses): a small corpus for tokenizer and encoder tests.
SAMPLE_CAPTIONS: tuple[str, ...] = (
    "A dog barks loudly, while the rain falls on a metal roof.",
    "Birds are chirping in the trees; a car drives by!",
    "Heavy rain is pouring down on the roof of a car.",
    "People talk and laugh in a crowded room.",
    "A door slams shut and footsteps walk away.",
    "Water flows steadily in a small stream.",
    "The wind blows through the leaves, which rustle.",
    "An engine starts, idles, and then revs up.",
    "Someone is typing on a keyboard very quickly.",
    "A crowd cheers and claps at a sports game.",
    "Thunder rumbles in the distance as rain falls.",
    "A bird sings while water drips from a roof.",
)


def write_tone(path: Path, index: int, *, seconds: float = SECONDS, sr: int = SR) -> Path:
    """A tone at ``200 * 1.12**(index % 40)`` Hz plus noise; WAV or FLAC by the file's suffix."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(round(seconds * sr))) / sr
    rng = np.random.default_rng(index)
    wave = 0.3 * np.sin(2 * np.pi * 200 * 1.12 ** (index % 40) * t) + 0.02 * rng.standard_normal(t.shape)
    # the format from the suffix without surrounding whitespace: a released name may end in "wav "
    sf.write(str(path), wave.astype(np.float32), sr, format=path.suffix.strip().lstrip(".").upper() or "WAV")
    return path


def _write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


# --------------------------------------------------------------------------------------------- ClothoV2.1
CLOTHO_CAPTION_HEADER = ["file_name"] + [f"caption_{i}" for i in range(1, 6)]
CLOTHO_META_HEADER = ["file_name", "keywords", "sound_id", "sound_link", "start_end_samples", "manufacturer",
                      "license"]

#: The quirky file names of every Clotho split: (name in the CSVs, name on disk).
CLOTHO_QUIRKY_NAMES: tuple[tuple[str, str], ...] = (
    ("Bird&#39;s song at dawn.wav", "Bird's song at dawn.wav"),  # entity in the CSV, unescaped on disk
    ("café crème.wav", "café crème.wav"),  # accents (written as ISO-8859-1 in the CSVs)
    ("rain on a tin roof.wav", "rain on a tin roof.wav"),  # spaces
)


def write_tiny_clotho(root: str | Path, *, sizes: dict[str, int] | None = None, offset: int = 0) -> Path:
    """ClothoV2.1 layout: per split ``clotho_captions_<split>.csv`` (ISO-8859-1), ``clotho_metadata_<split>.csv``
    (ISO-8859-1) and ``<split>/*.wav``.

    Each split holds ``sizes[split]`` recordings (default 6 / 3 / 3): the three names of
    :data:`CLOTHO_QUIRKY_NAMES` first (spaces, accents, ``&#39;``), then ``<split>_NN.wav``. Captions contain
    ``&#39;``; metadata rows cycle through the quirks: ``sound_id`` ``Not found``, ``sound_link`` ``NA``, empty and
    bracketed ``start_end_samples``; keywords are ``;``-separated with stray spaces. The last recording of each
    split has empty keywords.
    """
    root = Path(root)
    sizes = sizes or {"development": 6, "validation": 3, "evaluation": 3}
    index = offset
    for split, n in sizes.items():
        names = list(CLOTHO_QUIRKY_NAMES[:n]) + [(f"{split}_{i:02d}.wav", f"{split}_{i:02d}.wav")
                                                 for i in range(n - min(n, len(CLOTHO_QUIRKY_NAMES)))]
        caps, meta = [], []
        for j, (csv_name, disk_name) in enumerate(names):
            index += 1
            write_tone(root / split / disk_name, index)
            word = ["bird", "cafe", "rain", "engine", "dog", "water", "wind", "bell"][index % 8]
            caps.append([csv_name] + [f"A {word}&#39;s sound number {index}, take {k}" for k in range(1, 6)])
            keywords = "" if j == n - 1 else f"{word}; tone {index % 3};;Loud "
            sound_id = ["Not found", str(100000 + index), str(200000 + index)][j % 3]
            link = "NA" if sound_id == "Not found" else f"https://freesound.org/people/x/sounds/{sound_id}"
            start_end = ["", "[0, 8000]", "[]"][j % 3]
            meta.append([csv_name, keywords, sound_id, link, start_end, "someone", "CC BY 4.0"])
        _write_csv(root / f"clotho_captions_{split}.csv", CLOTHO_CAPTION_HEADER, caps, encoding="iso-8859-1")
        _write_csv(root / f"clotho_metadata_{split}.csv", CLOTHO_META_HEADER, meta, encoding="iso-8859-1")
    return root


# --------------------------------------------------------------------------------------------- AudioCaps
AUDIOSET_LABELS = [
    ("0", "/m/09x0r", "Speech"),
    ("1", "/m/05zppz", "Male speech, man speaking"),
    ("74", "/m/0bt9lr", "Dog"),
    ("137", "/m/04rlf", "Music"),
    ("288", "/m/0838f", "Water"),
    ("300", "/m/07yv9", "Vehicle"),
]


def write_tiny_audiocaps(root: str | Path, *, sizes: dict[str, int] | None = None, offset: int = 100) -> Path:
    """AudioCaps layout: ``train.csv`` (one caption per clip), ``val.csv`` and ``test.csv`` (five per clip, the
    rows of a clip not adjacent), audio ``audio/<split>/<youtube_id>_<start_time>.wav`` (every third clip
    ``.flac``), ``class_labels_indices.csv`` (quoted display names with commas) and two AudioSet segment files
    (``balanced_train_segments.csv``, ``eval_segments.csv``: comment lines, then ``YTID, start, end, "mids"``).

    Per split (default 5 / 3 / 3 clips): the LAST clip has no audio; the FIRST clip has no AudioSet labels; the
    second clip's labels are spread over both segment files (``Speech`` and ``Male speech, man speaking``, then
    ``Speech`` again and ``Dog``).
    """
    root = Path(root)
    sizes = sizes or {"train": 5, "val": 3, "test": 3}
    cap_id = 1000
    index = offset
    segments: dict[str, list[str]] = {"balanced_train_segments.csv": [], "eval_segments.csv": []}
    for split, n in sizes.items():
        clips = [(f"{split[:2]}{i:02d}-YtId_", str(30 + 10 * i)) for i in range(n)]
        per_clip = 1 if split == "train" else 5
        rows: list[list[str]] = []
        for k in range(per_clip):  # captions of a clip interleaved with the other clips' captions
            for i, (ytid, start) in enumerate(clips):
                cap_id += 1
                rows.append([str(cap_id), ytid, start, f"Sound {i} of {split} &amp; more, version {k}"])
        _write_csv(root / f"{split}.csv", ["audiocap_id", "youtube_id", "start_time", "caption"], rows)
        for i, (ytid, start) in enumerate(clips):
            index += 1
            if i < n - 1:
                ext = "flac" if i % 3 == 2 else "wav"
                write_tone(root / "audio" / split / f"{ytid}_{start}.{ext}", index)
            seg = f"{ytid}, {float(start):.3f}, {float(start) + 10:.3f}"
            if i == 1:
                segments["balanced_train_segments.csv"].append(f'{seg}, "/m/09x0r,/m/05zppz"')
                segments["eval_segments.csv"].append(f'{seg}, "/m/09x0r,/m/0bt9lr"')
            elif i > 1:
                mid = AUDIOSET_LABELS[2 + i % 4][1]
                segments["balanced_train_segments.csv"].append(f'{seg}, "{mid}"')
    segments["eval_segments.csv"].append('zzOtherClip, 0.000, 10.000, "/m/04rlf"')  # a clip not in AudioCaps
    _write_csv(root / "class_labels_indices.csv", ["index", "mid", "display_name"],
               [list(r) for r in AUDIOSET_LABELS])
    for name, lines in segments.items():
        header = ["# Segments csv created Sun Mar  5 10:54:31 2017",
                  f"# num_ytids={len(lines)}, num_segs={len(lines)}, num_unique_labels=6, num_positive_labels=9",
                  "# YTID, start_seconds, end_seconds, positive_labels"]
        (root / name).write_text("\n".join(header + lines) + "\n", encoding="utf-8")
    return root


# --------------------------------------------------------------------------------------------- SynthCaps
def write_tiny_synthcaps(root: str | Path, *, seed: int = 0) -> Path:
    """SynthCaps ``tiny`` (64 / 24 / 24 clips of the generated benchmark, ClothoV2 layout) written into ``root``."""
    from .synthcaps import generate

    generate(root, "tiny", seed)
    return Path(root)


# --------------------------------------------------------------------------------------------- WavCaps
def write_tiny_wavcaps(root: str | Path, *, offset: int = 200) -> Path:
    """WavCaps layout: the four ``json_files/<source>/*_final.json`` and ``audio/<source>/<id>.flac``, plus
    ``dcase2024_task6_excluded_freesound_ids.csv``.

    Expected after loading (the loader tests spell it out): FreeSound 4 entries (ids 11, 12, 13, 14; tags lists;
    id 13 is on the exclusion list; id 14 has duration 0) -> 2 recordings; BBC Sound Effects 2 entries (category
    as a Python-list string, and as a plain string) -> 2 recordings; SoundBible 2 entries (title), the second
    without audio -> 1 recording, 1 missing; AudioSet_SL 2 entries with ids ``Y...wav`` (no keywords) -> 2
    recordings. Total: 7 recordings, 1 missing, 2 excluded.
    """
    root = Path(root)
    index = offset

    def dump(source: str, name: str, data: list[dict]) -> None:
        path = root / "json_files" / source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"num_captions_per_audio": 1, "data": data}, indent=1), encoding="utf-8")

    def audio(source: str, stem: str) -> None:
        nonlocal index
        index += 1
        write_tone(root / "audio" / source / f"{stem}.flac", index)

    fsd = []
    for i, tags in zip((11, 12, 13, 14), (["Dog", "bark", "Dog"], ["rain", "Roof"], ["clotho", "test"], ["x"])):
        fsd.append({"id": str(i), "file_name": f"sound {i}.wav", "href": f"/people/a/sounds/{i}/",
                    "tags": tags, "description": "d", "author": "a", "duration": 0.0 if i == 14 else 0.5,
                    "download_link": "https://freesound.org", "caption": f"Freesound clip {i} &#39;here&#39;."})
        audio("FreeSound", str(i))
    dump("FreeSound", "fsd_final.json", fsd)
    bbc = [{"description": "Birds at dawn", "category": "['Nature', 'Birds']", "caption": "Birds chirp at dawn.",
            "id": "07070215", "duration": 0.5, "audio": "wav_path", "download_link": "https://bbc"},
           {"description": "A car", "category": "Transport", "caption": "A car passes by.", "id": "07070216",
            "duration": 0.5, "audio": "wav_path", "download_link": "https://bbc"}]
    for e in bbc:
        audio("BBC_Sound_Effects", e["id"])
    dump("BBC_Sound_Effects", "bbc_final.json", bbc)
    sb = [{"title": "Airplane Landing Airport", "description": "d", "author": "a", "href": "2219-Airplane.html",
           "caption": "An airplane lands.", "id": "2219", "duration": 0.5, "audio": "wav_path",
           "download_link": "https://soundbible"},
          {"title": "Door Slam", "description": "d", "author": "a", "href": "2220-Door.html",
           "caption": "A door slams.", "id": "2220", "duration": 0.5, "audio": "wav_path",
           "download_link": "https://soundbible"}]
    audio("SoundBible", "2219")  # 2220 has no audio
    dump("SoundBible", "sb_final.json", sb)
    as_sl = [{"id": "Y-0wJxM4pkYA.wav", "caption": "Speech and music.", "audio": "wav_path", "duration": 0.5},
             {"id": "Y00abcdEFgh.wav", "caption": "A dog barks.", "audio": "wav_path", "duration": 0.5}]
    for e in as_sl:
        audio("AudioSet_SL", e["id"][:-4])
    dump("AudioSet_SL", "as_final.json", as_sl)
    _write_csv(root / "dcase2024_task6_excluded_freesound_ids.csv", ["sound_id"], [["13"], ["999999"]])
    return root


# --------------------------------------------------------------------------------------------- ClothoV2.1 as released
#: File names of :func:`write_released_clotho`: (name in the CSVs, name on disk), per split. The first ones are the
#: release's own leading-space names (the files on disk carry the space); then a trailing space, a comma, double
#: quotes, an HTML entity (unescaped on disk), NFC in the CSV but NFD on disk (a macOS archive), accents.
RELEASED_NAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "development": ((" Ambience Birds.wav", " Ambience Birds.wav"),
                    (" typical neighborhood in Porto.wav", " typical neighborhood in Porto.wav")),
    "validation": ((" e ieio ieai.wav", " e ieio ieai.wav"),),
    "evaluation": ((" Ambience Birds.wav", " Ambience Birds.wav"),),
}
RELEASED_QUIRKS: tuple[tuple[str, str], ...] = (
    ("wind chimes.wav ", "wind chimes.wav "),
    ("Traffic, busy street.wav", "Traffic, busy street.wav"),
    ('The "big" bell.wav', 'The "big" bell.wav'),
    ("Bird&#39;s song at dawn.wav", "Bird's song at dawn.wav"),
    ("crème brûlée.wav", unicodedata.normalize("NFD", "crème brûlée.wav")),
    ("café crème.wav", "café crème.wav"),
)


def write_released_clotho(root: str | Path, *, sizes: dict[str, int] | None = None, offset: int = 0) -> Path:
    """A ClothoV2.1-layout folder whose names carry the quirks of the released files (:data:`RELEASED_NAMES`, then
    :data:`RELEASED_QUIRKS`, then ``<split>_NN.wav``; default sizes 8 / 4 / 8 recordings).

    The captions and metadata CSVs are ISO-8859-1, written the way the release writes them: a leading-space name is
    unquoted after the line break (`` Ambience Birds.wav,A bird...``), a name with a comma or quotes is quoted.
    Every caption is distinct; some hold ``&#39;`` or ``&amp;``. The metadata spells every name as the captions
    file does.
    """
    root = Path(root)
    sizes = sizes or {"development": 8, "validation": 4, "evaluation": 8}
    index = offset
    for split, n in sizes.items():
        quirky = list(RELEASED_NAMES.get(split, ())) + list(RELEASED_QUIRKS)
        names = quirky[:n] + [(f"{split}_{i:02d}.wav", f"{split}_{i:02d}.wav") for i in range(n - min(n, len(quirky)))]
        caps, meta = [], []
        for j, (csv_name, disk_name) in enumerate(names):
            index += 1
            write_tone(root / split / disk_name, index)
            word = ["bird", "cafe", "rain", "engine", "dog", "water", "wind", "bell"][index % 8]
            caps.append([csv_name] + [(f"A {word}&#39;s sound {index}, take {k}" if k % 2 else
                                       f"The {word} &amp; noise {index} in take {k}") for k in range(1, 6)])
            meta.append([csv_name, f"{word}; tone {index % 3}", str(300000 + index),
                         f"https://freesound.org/people/x/sounds/{300000 + index}", "", "someone", "CC BY 4.0"])
        _write_csv(root / f"clotho_captions_{split}.csv", CLOTHO_CAPTION_HEADER, caps, encoding="iso-8859-1")
        _write_csv(root / f"clotho_metadata_{split}.csv", CLOTHO_META_HEADER, meta, encoding="iso-8859-1")
    return root


def write_released_variations(root: str | Path, split: str, out: str | Path, *, n: int = 5, seed: int = 0,
                              prefix: str = "/mnt/authors/data/clotho_v2") -> Path:
    """The released ``clotho_gpt/variations.json`` format for the captions CSV of ``split`` in ``root``: a JSON list,
    one record per caption, ``{"idx", "path", "caption", "query", "response", "variations", "finish_reason",
    "usage"}``; ``path`` an absolute path on another machine ending in the file name as listed, ``caption`` the CSV
    cell as written (entities kept). Records are shuffled (seeded) and ``idx`` numbers them in the original order,
    so ``idx`` is not the list position. Variation ``k`` of a caption is ``"<caption> (variation k)"``, unescaped.
    """
    import html

    from .clotho import CAPTION_COLUMNS, read_csv_rows

    path = Path(root) / f"clotho_captions_{split}.csv"
    header, rows = read_csv_rows(path)
    records = []
    for row in rows:
        if not row:
            continue
        cells = dict(zip(header, row))
        for column in CAPTION_COLUMNS:
            caption = cells[column]
            variations = [f"{html.unescape(caption).strip()} (variation {k})" for k in range(1, n + 1)]
            records.append({"idx": len(records), "path": f"{prefix}/{split}/{cells['file_name']}", "caption": caption,
                            "query": f"Rephrase: {caption}", "response": "\n".join(f"{k}. {v}" for k, v in
                                                                                 enumerate(variations, 1)),
                            "variations": variations, "finish_reason": "stop",
                            "usage": {"prompt_tokens": 90, "completion_tokens": 80, "total_tokens": 170}})
    order = np.random.default_rng(seed).permutation(len(records))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([records[i] for i in order], indent=1, ensure_ascii=False), encoding="utf-8")
    return out
