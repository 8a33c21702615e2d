"""SynthCaps generator: ClothoV2 layout, determinism, captions, keyword noise, planted effects, atomic writes."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from retrieval.data import synthcaps as S
from retrieval.data.synthcaps import render, scenes, writer
from retrieval.data.synthcaps import EVENT_TYPES, GENERATOR_VERSION, SIZES, SPLITS, default_root, generate

CAP_HEADER = "file_name,caption_1,caption_2,caption_3,caption_4,caption_5"
META_HEADER = "file_name,keywords,sound_id,sound_link,start_end_samples,manufacturer,license"
SEQ_MARKERS = ("then", "followed", "before", "after", "afterwards", "later", "first")
OVL_MARKERS = ("while", "as", "same time", "together", "meanwhile", "background", "accompanied", "over")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def has_marker(text: str, markers: tuple[str, ...]) -> bool:
    w = " ".join(words(text))
    return any(re.search(rf"\b{m}\b", w) for m in markers)


@pytest.fixture(scope="module")
def tiny(cache_dir) -> Path:
    """The tiny set (seed 0), generated once into the session cache (shared with other tests)."""
    root = default_root(cache_dir, "tiny", 0)
    generate(root, "tiny", 0)
    return root


@pytest.fixture
def mini(monkeypatch):
    """Make ``tiny`` a 2/1/1-clip set for the tests of generate()'s folder handling (fast)."""
    monkeypatch.setitem(S.SIZES, "tiny", (2, 1, 1))
    return "tiny"


def read_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def sampled(n_per_split: int = 200, seeds=(0, 1)) -> list[dict]:
    return [S.sample_clip(seed, split, i) for seed in seeds for split in SPLITS for i in range(n_per_split)]


# --------------------------------------------------------------------------------------------- API
def test_api_constants_and_arguments(tmp_path):
    assert SIZES == {"tiny": (64, 24, 24), "small": (400, 100, 100), "default": (2000, 500, 500)}
    assert SPLITS == ("development", "validation", "evaluation")
    assert len(EVENT_TYPES) >= 20
    assert len({e.name for e in EVENT_TYPES}) == len(EVENT_TYPES)
    keywords = [e.keyword for e in EVENT_TYPES] + [s.keyword for s in S.SCENES]
    assert len(set(keywords)) == len(keywords) and all(";" not in k and k == k.strip().lower() for k in keywords)
    assert len(S.SCENES) >= 8
    assert default_root(tmp_path, "small", 3) == tmp_path / f"synthcaps-small-seed3-v{GENERATOR_VERSION}"
    with pytest.raises(ValueError, match="tiny.*small.*default"):
        generate(tmp_path / "x", "huge", 0)
    with pytest.raises(ValueError):
        generate(tmp_path / "x", "tiny", -1)
    with pytest.raises(ValueError):
        generate(tmp_path / "x", "tiny", 0, sample_rate=100)
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------------------------- layout
def test_layout_headers_and_counts(tiny):
    m = json.loads((tiny / "synthcaps.json").read_text(encoding="utf-8"))
    assert (m["dataset"], m["size"], m["seed"], m["sample_rate"]) == ("SynthCaps", "tiny", 0, 16000)
    assert m["version"] == S.GENERATOR_VERSION
    for split, n in zip(SPLITS, SIZES["tiny"]):
        assert m["counts"][split] == n == len(m["clips"][split])
        for kind, header in (("captions", CAP_HEADER), ("metadata", META_HEADER)):
            raw = (tiny / f"clotho_{kind}_{split}.csv").read_bytes()
            assert b"\r" not in raw
            assert raw.decode("utf-8").split("\n")[0] == header
            rows = read_rows(tiny / f"clotho_{kind}_{split}.csv")[1:]
            assert len(rows) == n and all(len(r) == len(header.split(",")) for r in rows)
        tag = {"development": "dev", "validation": "val", "evaluation": "eval"}[split]
        names = [r[0] for r in read_rows(tiny / f"clotho_captions_{split}.csv")[1:]]
        assert names == [f"synth_{tag}_{i:05d}.wav" for i in range(n)]
        assert sorted(p.name for p in (tiny / split).iterdir()) == names
        ids = set()
        for row in read_rows(tiny / f"clotho_metadata_{split}.csv")[1:]:
            name, keywords, sound_id, link, span, manufacturer, license_ = row
            assert keywords and all(k and k == k.strip() for k in keywords.split(";"))
            assert sound_id.isdigit() and link == f"https://freesound.org/s/{sound_id}"
            ids.add(sound_id)
            frames = sf.info(str(tiny / split / name)).frames
            assert span == f"[0, {frames}]"
            assert (manufacturer, license_) == ("synthcaps", "CC0")
        assert len(ids) == n
    # quoting only when needed: the span "[0, n]" holds a comma and is quoted, comma-free captions are not
    meta = (tiny / "clotho_metadata_development.csv").read_text(encoding="utf-8").split("\n")[1]
    assert meta.endswith('",synthcaps,CC0') and ',"[0, ' in meta
    rows = read_rows(tiny / "clotho_captions_development.csv")[1:]
    plain = [c for r in rows for c in r[1:] if "," not in c and '"' not in c]
    assert plain
    text = (tiny / "clotho_captions_development.csv").read_text(encoding="utf-8")
    assert all(f'"{c}"' not in text for c in plain)


def test_wav_format(tiny):
    for split in SPLITS:
        for wav in sorted((tiny / split).glob("*.wav")):
            info = sf.info(str(wav))
            assert (info.channels, info.samplerate, info.subtype, info.format) == (1, 16000, "PCM_16", "WAV")
            assert 4.0 <= info.duration <= 6.0


def test_manifest_ground_truth(tiny):
    m = S.load_manifest(tiny)
    durations = []
    for split in SPLITS:
        for clip in m["clips"][split]:
            durations.append(clip["duration"])
            assert clip["num_samples"] == sf.info(str(tiny / split / clip["file_name"])).frames
            assert clip["scene"] in m["scenes"]
            assert 1 <= len(clip["events"]) <= 3
            assert len({e["type"] for e in clip["events"]}) == len(clip["events"])
            for e in clip["events"]:
                assert e["type"] in m["event_types"] and e["keyword"] == m["event_keywords"][e["type"]]
                assert 0.0 <= e["onset"] < e["offset"] <= clip["duration"] + 1e-3
                assert e["offset"] - e["onset"] >= 0.5
            for rel in clip["relations"]:
                a, b = clip["events"][rel["first"]], clip["events"][rel["second"]]
                assert a["onset"] <= b["onset"]
                assert rel["relation"] == ("before" if a["offset"] <= b["onset"] else "overlaps")
            assert len(clip["captions"]) == len(clip["caption_mentions"]) == 5
            if split == "evaluation":
                assert clip["shift"] is not None and -12.0 <= clip["shift"]["gain_db"] <= -3.0
            else:
                assert clip["shift"] is None
    assert min(durations) < 4.6 and max(durations) > 5.4  # spread over 4-6 s: loaders must crop/pad


# --------------------------------------------------------------------------------------------- determinism
def test_same_seed_is_byte_identical(tiny, tmp_path):
    copy = tmp_path / "again"
    generate(copy, "tiny", 0)
    a, b = all_files(tiny), all_files(copy)
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []


#: sha256 over ``"<sha256 of the file>  <relative path>\n"`` of every file of SynthCaps tiny, seed 0, 16 kHz, sorted by
#: path (GENERATOR_VERSION 1.1.0). The generator promises byte-identical output per (size, seed, sample_rate,
#: version): a change of this hash means the output changed, which needs a new GENERATOR_VERSION (and a new pin).
#: Measured with the pinned numpy/scipy/soundfile of pyproject.toml.
TINY_SEED0_CONTENT_HASH = "6ebd13224d4d8e237debd1be911ef29a3dbddab3656e902b54e1684def0c574c"


def content_hash(root: Path) -> str:
    files = sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file())
    listing = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {rel}\n" for rel, p in files)
    return hashlib.sha256(listing.encode()).hexdigest()


def test_tiny_seed0_output_is_pinned(tiny):
    assert GENERATOR_VERSION == "1.1.0", "a new generator version needs a new pinned hash"
    assert content_hash(tiny) == TINY_SEED0_CONTENT_HASH


def test_render_clip_matches_written_file_and_seeds_differ(tiny):
    entry, audio = S.render_clip(0, "evaluation", 5)
    written, sr = sf.read(str(tiny / "evaluation" / entry["file_name"]), dtype="int16")
    assert sr == 16000 and np.array_equal(written, writer._to_pcm16(audio))
    assert entry == S.load_manifest(tiny)["clips"]["evaluation"][5]
    for i in range(3):
        e0, a0 = S.render_clip(0, "development", i)
        e1, a1 = S.render_clip(1, "development", i)
        assert e0["captions"] != e1["captions"]
        assert a0.shape != a1.shape or not np.allclose(a0, a1)
    # a clip does not depend on the split size or on generation order
    assert S.sample_clip(0, "validation", 3) == S.sample_clip(0, "validation", 3)
    assert S.sample_clip(0, "validation", 3) != S.sample_clip(0, "development", 3)


# --------------------------------------------------------------------------------------------- captions
def test_captions_in_written_data(tiny):
    for split in SPLITS:
        for row in read_rows(tiny / f"clotho_captions_{split}.csv")[1:]:
            caps = row[1:]
            assert len(caps) == 5 and len({c.lower() for c in caps}) == 5
            for c in caps:
                assert 8 <= len(c.split()) <= 20, c
                assert c.endswith(".") and c[0].isalpha() and c == c.strip() and "  " not in c


def test_caption_rules_over_many_clips():
    clips = sampled(150)
    n_caps = n_scene = 0
    lengths = set()
    for clip in clips:
        scene = scenes._scene(clip["scene"])
        bg = [i for i, e in enumerate(clip["events"]) if e["background"]]
        for cap, mentioned in zip(clip["captions"], clip["caption_mentions"]):
            n_caps += 1
            lengths.add(len(cap.split()))
            assert 8 <= len(cap.split()) <= 20
            n_scene += any(p in cap.lower() for p in scene.phrases)
            # every foreground event is mentioned; only a background event may be left out
            assert set(range(len(clip["events"]))) - set(mentioned) <= set(bg)
            if "background" in cap.lower():
                assert bg and bg[0] in mentioned
            if clip["pattern"] == "sequence":
                assert has_marker(cap, SEQ_MARKERS) and not has_marker(cap, OVL_MARKERS), cap
            if clip["pattern"] == "overlap" and len(mentioned) == 2:
                assert has_marker(cap, OVL_MARKERS) and not has_marker(cap, SEQ_MARKERS), cap
            if clip["pattern"] in ("sequence3", "overlap_then"):
                assert has_marker(cap, SEQ_MARKERS), cap
    assert 0.55 <= n_scene / n_caps <= 0.8  # P_SCENE_IN_CAPTION = 0.75, less for long terse captions
    assert len(lengths) >= 10  # lengths vary, not one rigid template
    first_words = {c.split()[0].lower() for clip in clips for c in clip["captions"]}
    assert len(first_words) >= 30


def test_at_least_20_event_types_occur():
    clips = [S.sample_clip(0, split, i) for split, n in zip(SPLITS, SIZES["small"]) for i in range(n)]
    seen = {e["type"] for c in clips for e in c["events"]}
    assert len(seen) >= 20
    patterns = {c["pattern"] for c in clips}
    assert patterns == {"single", "sequence", "overlap", "sequence3", "sequence_bg", "overlap_then"}


# --------------------------------------------------------------------------------------------- keywords
def test_keyword_noise_statistics():
    clips = sampled(200)
    generic = set(S.GENERIC_TAGS)
    kept = total = scene_kept = with_spurious = with_generic = 0
    for clip in clips:
        kws = clip["keywords"]
        assert kws and len(set(kws)) == len(kws)
        true = [e["keyword"] for e in clip["events"]]
        total += len(true)
        kept += sum(k in kws for k in true)
        scene_kept += clip["scene"] in kws
        spurious = [k for k in kws if k not in true and k != clip["scene"] and k not in generic]
        assert len(spurious) <= 2
        with_spurious += bool(spurious)
        with_generic += any(k in generic for k in kws)
    n = len(clips)
    assert 0.55 <= kept / total <= 0.85
    assert 0.72 <= scene_kept / n <= 0.88
    assert 0.4 <= with_spurious / n <= 0.8
    assert 0.2 <= with_generic / n <= 0.5
    # shuffled: the scene keyword is not always in the same position
    positions = {c["keywords"].index(c["scene"]) for c in clips if c["scene"] in c["keywords"]}
    assert len(positions) >= 3


# --------------------------------------------------------------------------------------------- audio effects
def rms_db(x: np.ndarray) -> float:
    return 20.0 * np.log10(np.sqrt(np.mean(np.square(x, dtype=float))) + 1e-12)


def test_evaluation_split_is_quieter_and_shift_recorded(tiny):
    levels = {s: [rms_db(sf.read(str(p))[0]) for p in sorted((tiny / s).glob("*.wav"))] for s in SPLITS}
    dev, val, ev = (float(np.mean(levels[s])) for s in SPLITS)
    assert ev < dev - 4.0 and ev < val - 4.0
    assert abs(dev - val) < 4.0
    m = S.load_manifest(tiny)
    shifts = [c["shift"] for c in m["clips"]["evaluation"]]
    assert all(-12.0 <= s["gain_db"] <= -3.0 for s in shifts)
    assert len({s["tilt_db"] for s in shifts}) == len(shifts)  # random colouring per clip
    # no clipping and no per-clip normalisation: peaks stay below full scale and levels vary a lot
    peaks = [c["peak_dbfs"] for s in SPLITS for c in m["clips"][s]]
    assert max(peaks) < -0.5
    assert np.std(levels["development"]) > 3.0


def test_apply_shift_keeps_rms_before_the_gain():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16000)
    shift = {"gain_db": -6.0, "tilt_db": 8.0, "tilt_pivot_hz": 1000.0,
             "peak": {"freq_hz": 3000.0, "gain_db": 6.0, "q": 1.0}}
    y = render._apply_shift(x, 16000, shift)
    assert rms_db(y) == pytest.approx(rms_db(x) - 6.0, abs=0.01)
    spec_x, spec_y = np.abs(np.fft.rfft(x)) ** 2, np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / 16000)
    ratio = lambda lo, hi: spec_y[(f > lo) & (f < hi)].sum() / spec_x[(f > lo) & (f < hi)].sum()  # noqa: E731
    assert ratio(4000, 7000) > 2.0 * ratio(50, 300)  # positive tilt: brighter


def _logmel(x: np.ndarray, mel: np.ndarray) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(x, 1024)[::512] * np.hanning(1024)
    return 10.0 * np.log10(np.abs(np.fft.rfft(frames, axis=1)) ** 2 @ mel.T + 1e-10)


def test_audio_carries_event_information():
    """Mean mel spectra of two clips of one event type are far closer than clips of different types."""
    import librosa

    mel = librosa.filters.mel(sr=16000, n_fft=1024, n_mels=40)
    by_type: dict[str, list[int]] = {}
    for i in range(500):
        c = S.sample_clip(0, "development", i)
        e = c["events"][0]
        if c["pattern"] == "single" and e["attributes"].get("pitch") is None and \
                e["attributes"].get("distance") != "far":
            by_type.setdefault(e["type"], []).append(i)
    vecs = {}
    for t, idx in by_type.items():
        if len(idx) >= 2:
            vecs[t] = []
            for i in idx[:2]:
                p = (10.0 ** (_logmel(S.render_clip(0, "development", i)[1], mel) / 10.0)).mean(0)
                vecs[t].append(p / p.sum())
    assert len(vecs) >= 12
    dist = lambda a, b: float(np.abs(a - b).sum())  # noqa: E731
    within = np.mean([dist(a, b) for a, b in vecs.values()])
    types = sorted(vecs)
    between = np.mean([dist(vecs[a][0], vecs[b][0]) for i, a in enumerate(types) for b in types[i + 1:]])
    assert between > 1.8 * within
    nearest = [min(types, key=lambda b: dist(vecs[a][1], vecs[b][0])) == a for a in types]
    assert np.mean(nearest) >= 0.6  # chance is 1 / len(types)


def test_loud_quiet_and_pitch_attributes_change_the_audio():
    levels: dict[str, list[float]] = {"loud": [], "quiet": []}
    for i in range(300):
        c = S.sample_clip(0, "validation", i)
        e = c["events"][0]
        loud = e["attributes"].get("loudness")
        if c["pattern"] == "single" and loud and e["attributes"].get("distance") is None and \
                len(levels[loud]) < 8:
            levels[loud].append(rms_db(S.render_clip(0, "validation", i)[1]))
    assert len(levels["loud"]) >= 5 and len(levels["quiet"]) >= 5
    assert np.mean(levels["loud"]) - np.mean(levels["quiet"]) > 8.0

    def centroid(x):
        p = np.abs(np.fft.rfft(x)) ** 2
        return float((p * np.fft.rfftfreq(x.size, 1 / 16000)).sum() / p.sum())

    for ev in EVENT_TYPES:
        if "pitch" in ev.attributes and not ev.noisy:
            hi = centroid(ev.synth(np.random.default_rng(1), 48000, 16000, S.PITCH_FACTOR["high"], 1.0))
            lo = centroid(ev.synth(np.random.default_rng(1), 48000, 16000, S.PITCH_FACTOR["low"], 1.0))
            assert hi > 1.15 * lo, ev.name


def test_other_sample_rates_render():
    for sr in (8000, 22050):
        entry, audio = S.render_clip(0, "evaluation", 1, sample_rate=sr)
        assert audio.shape == (entry["num_samples"],) and 4 * sr <= audio.size <= 6 * sr
        assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0


# --------------------------------------------------------------------------------------------- folders
def test_idempotent_on_complete_folder(tiny, monkeypatch):
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in tiny.rglob("*")}

    def no_rendering(*args, **kwargs):  # pragma: no cover - reached only if the complete folder were regenerated
        raise AssertionError("a complete folder was generated again")

    monkeypatch.setattr(writer, "_write_split", no_rendering)
    manifest = generate(tiny, "tiny", 0)
    assert manifest == S.load_manifest(tiny)
    assert {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in tiny.rglob("*")} == before


def test_refuses_a_different_existing_folder(tiny, tmp_path):
    with pytest.raises(FileExistsError, match=re.escape(str(tiny))):
        generate(tiny, "tiny", 1)
    with pytest.raises(FileExistsError, match=re.escape(str(tiny))):
        generate(tiny, "tiny", 0, sample_rate=22050)
    other = tmp_path / "user-data"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=re.escape(str(other))):
        generate(other, "tiny", 0)
    assert (other / "notes.txt").read_text() == "mine" and len(list(other.iterdir())) == 1
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(FileExistsError):
        generate(a_file, "tiny", 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "user-data"]  # no partial folders left


def test_generate_into_empty_folder_and_detect_incomplete(mini, tmp_path, capsys):
    out = tmp_path / "nested" / "set"
    out.mkdir(parents=True)  # an empty folder counts as absent
    manifest = generate(out, mini, 7, progress=True)
    assert manifest["counts"] == {"development": 2, "validation": 1, "evaluation": 1}
    assert manifest == json.loads((out / "synthcaps.json").read_text(encoding="utf-8"))
    assert "development" in capsys.readouterr().err  # tqdm bars on stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["set"]
    (out / "development" / "synth_dev_00001.wav").unlink()
    with pytest.raises(FileExistsError, match="incomplete"):
        generate(out, mini, 7)


def test_failed_generation_leaves_nothing(mini, tmp_path, monkeypatch):
    calls = []

    def boom(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("synthesis failed")
        return real(*args, **kwargs)

    real = writer.render_clip
    monkeypatch.setattr(writer, "render_clip", boom)
    with pytest.raises(RuntimeError, match="synthesis failed"):
        generate(tmp_path / "set", mini, 0)
    assert list(tmp_path.iterdir()) == []
