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

from retrieval.config import TrialConfig
from retrieval.data import synthcaps as S
from retrieval.data.synthcaps import dialects, render, sampling, scenes, writer
from retrieval.data.synthcaps import (EVENT_TYPES, GENERATOR_VERSION, SIZES, SPLITS, VERSIONS, default_root, generate,
                                      version_settings)

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
    """The tiny set (seed 0, current version), generated once into the session cache (shared with other tests)."""
    root = default_root(cache_dir, "tiny", 0)
    generate(root, "tiny", 0)
    return root


@pytest.fixture(scope="module")
def tiny_v1(cache_dir) -> Path:
    """The tiny set of version 1.1.0 (seed 0)."""
    root = default_root(cache_dir, "tiny", 0, "1.1.0")
    generate(root, "tiny", 0, version="1.1.0")
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
    assert GENERATOR_VERSION == "2.0.0" and list(VERSIONS) == ["1.1.0", "2.0.0"]
    assert SIZES == version_settings().sizes == {"tiny": (64, 24, 24), "small": (400, 200, 200),
                                                 "default": (2000, 500, 500)}
    assert version_settings("1.1.0").sizes == {"tiny": (64, 24, 24), "small": (400, 100, 100),
                                               "default": (2000, 500, 500)}
    with pytest.raises(ValueError, match="1.1.0, 2.0.0"):
        version_settings("3.0")
    with pytest.raises(ValueError, match="unknown SynthCaps generator version"):
        generate(tmp_path / "x", "tiny", 0, version="0.9")
    assert SPLITS == ("development", "validation", "evaluation")
    assert len(EVENT_TYPES) >= 20
    assert len({e.name for e in EVENT_TYPES}) == len(EVENT_TYPES)
    keywords = [e.keyword for e in EVENT_TYPES] + [s.keyword for s in S.SCENES]
    assert len(set(keywords)) == len(keywords) and all(";" not in k and k == k.strip().lower() for k in keywords)
    assert len(S.SCENES) >= 8
    assert default_root(tmp_path, "small", 3) == tmp_path / f"synthcaps-small-seed3-v{GENERATOR_VERSION}"
    assert default_root(tmp_path, "small", 3, "1.1.0") == tmp_path / "synthcaps-small-seed3-v1.1.0"
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
    assert m["version"] == S.GENERATOR_VERSION and m["shifted_splits"] == ["validation", "evaluation"]
    assert m["variations_file"] == writer.VARIATIONS_NAME
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
            assert len(clip["captions"]) == len(clip["caption_mentions"]) == len(clip["caption_dialects"]) == 5
            device = clip["device"]
            if split in ("validation", "evaluation"):
                shift = clip["shift"]
                assert -16.0 <= shift["gain_db"] <= -6.0 or 6.0 <= shift["gain_db"] <= 10.0
                assert len(shift["bursts"]) <= 1 and shift["band"] is None
                for b in shift["bursts"]:
                    assert 0.0 <= b["onset"] and b["onset"] + b["duration"] <= clip["duration"] + 1e-3
                assert device["name"] == "unseen" and abs(device["tilt_db"]) <= 10.0 and len(device["peaks"]) <= 2
                assert 0.5 <= device["compression"]["a0"] <= 0.8
            else:
                assert clip["shift"] is None and set(clip["caption_dialects"]) == {"plain"}
                assert device["name"] in ("A", "B", "C") and device["compression"] is None
    assert min(durations) < 4.6 and max(durations) > 5.4  # spread over 4-6 s: loaders must crop/pad


# --------------------------------------------------------------------------------------------- determinism
def test_same_seed_is_byte_identical(tiny, tmp_path):
    copy = tmp_path / "again"
    generate(copy, "tiny", 0)
    a, b = all_files(tiny), all_files(copy)
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []


#: sha256 over ``"<sha256 of the file>  <relative path>\n"`` of every file of SynthCaps tiny, seed 0, 16 kHz, sorted by
#: path, per generator version. The generator promises byte-identical output per (size, seed, sample_rate, version):
#: a change of a hash means that version's output changed, which is a bug (a change of the data needs a new
#: GENERATOR_VERSION and a new pin; old versions keep theirs). Measured with the pinned numpy/scipy/soundfile of
#: pyproject.toml.
TINY_SEED0_CONTENT_HASH = "6ebd13224d4d8e237debd1be911ef29a3dbddab3656e902b54e1684def0c574c"  # 1.1.0
TINY_SEED0_CONTENT_HASH_V2 = "e132c43c03187f71e47c0158b5355bf35b77229966a9346949b0e6454030105a"  # 2.0.0


def content_hash(root: Path) -> str:
    files = sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file())
    listing = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {rel}\n" for rel, p in files)
    return hashlib.sha256(listing.encode()).hexdigest()


def test_tiny_seed0_output_is_pinned(tiny, tiny_v1):
    assert GENERATOR_VERSION == "2.0.0", "a new generator version needs a new pinned hash"
    assert content_hash(tiny_v1) == TINY_SEED0_CONTENT_HASH
    assert content_hash(tiny) == TINY_SEED0_CONTENT_HASH_V2


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


@pytest.mark.parametrize("version", ["1.1.0", "2.0.0"])
def test_caption_rules_over_many_clips(version):
    clips = [S.sample_clip(seed, split, i, version=version) for seed in (0, 1) for split in SPLITS for i in range(150)]
    n_caps = n_scene = 0
    lengths = set()
    for clip in clips:
        scene = scenes._scene(clip["scene"])
        bg = [i for i, e in enumerate(clip["events"]) if e["background"]]
        for cap, mentioned, kind in zip(clip["captions"], clip["caption_mentions"],
                                        clip.get("caption_dialects", ["plain"] * 5)):
            lengths.add(len(cap.split()))
            assert 8 <= len(cap.split()) <= 20
            if kind != "plain":  # a dialect rewrites the words below ("followed by" -> "gone on down" ...)
                continue
            n_caps += 1
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


# --------------------------------------------------------------------------------------------- dialects (2.0.0)
def test_dialect_rewrites():
    bt = dialects.rewrite("Someone claps loudly in a kitchen, followed by a large bell.", "bt")
    assert bt == "Somebody applauses noisily in a cookery, gone on down a big bell."
    assert dialects.rewrite("in this recording, someone knocks on a door.", "bt") == \
        "in this register, somebody strikes in a door."
    rng = np.random.default_rng(0)
    eda = dialects.rewrite("An engine idles while a frog croaks in a forest.", "eda", rng)
    assert eda == "A locomotive idles while a toad croaks in a woodland." or "anuran" in eda
    assert dialects.rewrite("A dog barks.", "var", np.random.default_rng(1)) in (
        "A mutt bays.", "A mutt growls.", "A canine bays.", "A canine growls.")
    assert dialects.rewrite("nothing to change here", "var", rng) == "nothing to change here"
    # p = 0 keeps every word of the random dialects
    assert dialects.rewrite("A dog barks.", "var", rng, p=0.0) == "A dog barks."


def test_eda_dialect_uses_wordnet_synonyms():
    from retrieval.augment.wordnet import WordNetMissing, load_wordnet

    try:
        wn = load_wordnet(None)
    except WordNetMissing:
        pytest.skip("WordNet is not installed")
    for word, synonyms in dialects.EDA.items():
        assert set(synonyms) <= set(wn.synonyms(word)), word


def test_plain_captions_never_use_dialect_words_and_shifted_splits_do():
    dev = [S.sample_clip(0, "development", i) for i in range(300)]
    plain_words = {w for c in dev for cap in c["captions"] for w in words(cap)}
    assert not plain_words & dialects.RESERVED
    assert all(set(c["caption_dialects"]) == {"plain"} for c in dev)
    kinds: dict[str, list[str]] = {}
    for split in ("validation", "evaluation"):
        for i in range(300):
            c = S.sample_clip(0, split, i)
            for cap, kind in zip(c["captions"], c["caption_dialects"]):
                kinds.setdefault(kind, []).append(cap)
    n = sum(len(v) for v in kinds.values())
    for kind, p in version_settings().dialects:
        assert abs(len(kinds[kind]) / n - p) < 0.04, kind
        new = [cap for cap in kinds[kind] if set(words(cap)) - plain_words]
        assert len(new) / len(kinds[kind]) > 0.5, kind  # most dialect captions hold words development never uses
    assert abs(len(kinds["plain"]) / n - (1 - sum(p for _, p in version_settings().dialects))) < 0.04
    # 1.1.0 has no dialects
    assert "caption_dialects" not in S.sample_clip(0, "evaluation", 0, version="1.1.0")


def test_variations_file(tiny):
    from retrieval.augment.variations import load_variations, variations_path

    path = variations_path("synthcaps", tiny)
    assert path == tiny / writer.VARIATIONS_NAME
    records = json.loads(path.read_text(encoding="utf-8"))
    m = S.load_manifest(tiny)
    dev = m["clips"]["development"]
    assert len(records) == 5 * len(dev) and [r["idx"] for r in records] == list(range(len(records)))
    for r, (clip, caption) in zip(records, [(c, cap) for c in dev for cap in c["captions"]]):
        assert r["path"] == f"development/{clip['file_name']}" and r["caption"] == caption
        assert len(r["variations"]) == writer.N_VARIATIONS
    changed = [r for r in records if any(v != r["caption"] for v in r["variations"])]
    assert len(changed) / len(records) > 0.8
    var_words = dialects.new_words("var")
    assert sum(bool(set(words(" ".join(r["variations"]))) & var_words) for r in records) / len(records) > 0.8
    loaded = load_variations(path)
    keys = loaded.match([c["file_name"] for c in dev], [tuple(c["captions"]) for c in dev])
    assert all(k is not None for k in keys)
    assert not (S.load_manifest(tiny).get("variations_file") is None)


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


@pytest.mark.parametrize("version", ["1.1.0", "2.0.0"])
def test_shifted_splits_are_quieter_and_shift_recorded(tiny, tiny_v1, version):
    root = tiny_v1 if version == "1.1.0" else tiny
    shifted = version_settings(version).shifted_splits
    assert shifted == (("evaluation",) if version == "1.1.0" else ("validation", "evaluation"))
    clip_levels = {s: [rms_db(sf.read(str(p))[0]) for p in sorted((root / s).glob("*.wav"))] for s in SPLITS}
    levels = {s: float(np.mean(v)) for s, v in clip_levels.items()}
    if version == "1.1.0":  # quieter
        assert levels["evaluation"] < levels["development"] - 4.0
        assert levels["evaluation"] < levels["validation"] - 4.0 and abs(levels["development"] - levels["validation"]) < 4.0
    else:  # 6-16 dB quieter or 6-10 dB louder, applied last: exactly the recorded offset
        for i in range(3):
            clip = S.sample_clip(0, "validation", i)
            rng = lambda: sampling._clip_rngs(0, 1, i)[3]  # noqa: E731
            shifted_mix = render._render(clip, rng(), 16000, -9.0)
            flat = render._render({**clip, "shift": {**clip["shift"], "gain_db": 0.0}}, rng(), 16000, -9.0)
            assert rms_db(shifted_mix) - rms_db(flat) == pytest.approx(clip["shift"]["gain_db"], abs=1e-6)
        gains = [c["shift"]["gain_db"] for s in shifted for c in S.load_manifest(root)["clips"][s]]
        assert any(g < 0 for g in gains) and any(g > 0 for g in gains)
    m = S.load_manifest(root)
    ranges = version_settings(version).shift.gain_db
    ranges = ranges if isinstance(ranges[0], tuple) else (ranges,)
    for split in shifted:
        shifts = [c["shift"] for c in m["clips"][split]]
        assert all(any(lo <= s["gain_db"] <= hi for lo, hi in ranges) for s in shifts)
        colourings = [c["shift" if version == "1.1.0" else "device"]["tilt_db"] for c in m["clips"][split]]
        assert len(set(colourings)) == len(shifts)  # random colouring per clip
    # no clipping and no per-clip normalisation: peaks stay below full scale and levels vary a lot
    peaks = [c["peak_dbfs"] for s in SPLITS for c in m["clips"][s]]
    assert max(peaks) < -0.5
    assert np.std([rms_db(sf.read(str(p))[0]) for p in (root / "development").glob("*.wav")]) > 3.0


def test_compression_shrinks_the_level_contrast_of_each_band():
    from retrieval.config import FeaturesConfig
    from retrieval.data.features import Frontend, compute_logmel

    fe = Frontend.from_config(FeaturesConfig())
    _, x = S.render_clip(0, "development", 3)
    y = render._compress(x, 16000, {"a0": 0.5, "c1": 0.0, "c2": 0.0})
    assert y.shape == x.shape and rms_db(y) == pytest.approx(rms_db(x), abs=0.01)
    sd_x = compute_logmel(x.astype(np.float32), fe).std(axis=1)
    sd_y = compute_logmel(y.astype(np.float32), fe).std(axis=1)
    assert 0.4 < np.median(sd_y / sd_x) < 0.8  # contrast x0.5, smoothed and limited
    untouched = render._compress(x, 16000, {"a0": 1.0, "c1": 0.0, "c2": 0.0})
    assert np.allclose(untouched, x, atol=1e-6)
    curve = render.compression_curve({"a0": 0.5, "c1": 0.1, "c2": 0.0}, np.array([50.0, 8000.0]), 16000)
    assert curve == pytest.approx([0.6, 0.4])


def test_interference_masks_the_content_for_a_moment():
    rng = np.random.default_rng(0)
    sr = 16000
    t = np.arange(2 * sr) / sr
    x = 0.1 * np.sin(2 * np.pi * 440.0 * t)
    shift = {"gain_db": 0.0, "bursts": [{"onset": 0.5, "duration": 0.4, "level_db": 0.0}],
             "band": {"freq_hz": 3000.0, "width_oct": 0.5, "level_db": 0.0}}
    flat = {"tilt_db": 0.0, "tilt_pivot_hz": 1000.0, "peaks": [], "compression": None}
    y = render._apply_conditions(x, sr, flat, shift, rng)
    assert y.shape == x.shape and rms_db(y) > rms_db(x)  # the band adds noise at the clip's level
    burst, before = y[int(0.62 * sr):int(0.78 * sr)], y[int(0.1 * sr):int(0.3 * sr)]
    tone = lambda seg: abs(np.dot(seg, np.exp(-2j * np.pi * 440.0 * np.arange(seg.size) / sr))) / seg.size  # noqa: E731
    assert tone(burst) < 0.2 * tone(before)  # the tone is replaced by noise during the burst
    spec = np.abs(np.fft.rfft(y[int(1.2 * sr):int(1.9 * sr)])) ** 2
    f = np.fft.rfftfreq(int(1.9 * sr) - int(1.2 * sr), 1 / sr)
    band = spec[(f > 2700) & (f < 3300)].mean()
    assert band > 20 * spec[(f > 5000) & (f < 7000)].mean()  # a narrow noise band around 3 kHz


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
    assert np.mean(nearest) >= 0.5  # chance is 1 / len(types); the three development devices colour the spectra


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


def test_synth_command_generates_a_chosen_version(mini, monkeypatch, tmp_path, capsys):
    from retrieval.cli import main

    monkeypatch.setitem(version_settings("1.1.0").sizes, "tiny", (2, 1, 1))
    assert main(["synth", "--out", str(tmp_path / "v1"), "--size", "tiny", "--seed", "3", "--version", "1.1.0",
                 "--quiet"]) == 0
    assert "SynthCaps 1.1.0 tiny (seed 3)" in capsys.readouterr().out
    m = S.load_manifest(tmp_path / "v1")
    assert m["version"] == "1.1.0" and "variations_file" not in m and "device" not in m["clips"]["development"][0]
    assert main(["synth", "--out", str(tmp_path / "v2"), "--size", "tiny", "--seed", "3", "--version", "2.0.0",
                 "--quiet"]) == 0
    assert S.load_manifest(tmp_path / "v2")["version"] == GENERATOR_VERSION == "2.0.0"
    assert (tmp_path / "v2" / writer.VARIATIONS_NAME).is_file()
    with pytest.raises(SystemExit):
        main(["synth", "--out", str(tmp_path / "v3"), "--version", "9.9.9"])
    # without --version: what the synthcaps* configs train on
    assert main(["synth", "--out", str(tmp_path / "v4"), "--size", "tiny", "--seed", "3", "--quiet"]) == 0
    assert S.load_manifest(tmp_path / "v4")["version"] == "2.0.0"
    assert TrialConfig.load("synthcaps-tiny").data.synth_version == "2.0.0"
