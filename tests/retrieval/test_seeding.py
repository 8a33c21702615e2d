"""Seed streams (``train.seed_streams``, :mod:`retrieval.seeding`): single mode draws exactly what it drew before
the streams existed; in split mode every consumer has a stream of its own, so switching one augmentation off leaves
the initial weights, the batches' order, captions and crops, and every other augmentation's draws as they were."""

from __future__ import annotations

import hashlib
import json
import platform
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from retrieval.augment.audio import AudioAugment
from retrieval.augment.text import TextAugment
from retrieval.batching import BatchAssembler, SplitData, epoch_pairs, epoch_seed
from retrieval.config import SEED_STREAMS, ConfigError, TrainConfig, TrialConfig
from retrieval.seeding import epoch_draws, init_seed, stream_key, vocabulary_draws


def train_section(mode: str = "split", seed: int = 7, **streams) -> TrainConfig:
    return TrialConfig().with_overrides({"train.seed": seed, "train.seed_streams.mode": mode,
                                         **{f"train.seed_streams.{k}": v for k, v in streams.items()}}).train


# ---------------------------------------------------------------------------------------------- single mode
def test_single_mode_draws_from_the_generators_of_before():
    """One seed: ``(train.seed, epoch)`` seeds torch's global generator, one NumPy and one torch generator that
    every consumer shares; the weights start from ``train.seed``; the vocabulary from ``[seed, 0x70CAB]``."""
    train = train_section("single", seed=5)
    draws, model_seed = epoch_draws(train, 3)
    seed = epoch_seed(5, 3)
    assert model_seed == seed and init_seed(train) == 5
    assert draws.data is draws.text is draws.metadata and isinstance(draws.audio, torch.Generator)
    assert draws.data.bit_generator.state == np.random.default_rng(seed).bit_generator.state
    assert torch.equal(draws.audio.get_state(), torch.Generator().manual_seed(seed).get_state())
    assert vocabulary_draws(train).bit_generator.state == np.random.default_rng([5, 0x70CAB]).bit_generator.state


CHECK_OVERRIDES = {
    "train.progress": False, "train.num_threads": 1, "train.epochs": 2, "fusion.kind": "late",
    "fusion.metadata_dropout": 0.3, "augment.gain.g_max": 3.0, "augment.spec.n_f": 1, "augment.spec.n_t": 1,
    "augment.mixstyle.p": 0.5, "augment.eda.p_eda": 0.5, "augment.eda.p_swp": 0.2, "augment.eda.p_del": 0.2,
}
#: What main at 9e74fc5 (before the seed streams) trained with CHECK_OVERRIDES on synthcaps-tiny: its fingerprint,
#: the sha256 (first 16 hex digits) of best.pt's and last.pt's tensors (keys sorted) and of the history without its
#: times, computed there on the CPU with one thread (torch 2.13.0+cpu, x86_64).
MAIN_9E74FC5 = {"fingerprint": "9f8875c802f73426", "best": "f410bb34ca7bac8e", "last": "28916e4e2b5db1b5",
                "history": "f12203dc136d2dc1"}


def _digest(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@pytest.mark.skipif(torch.__version__ != "2.13.0+cpu" or platform.machine() != "x86_64",
                    reason="the recorded digests are float results of torch 2.13.0+cpu on x86_64")
def test_single_mode_trains_bit_identically_to_main_before_the_streams(tmp_path, cache_dir):
    """Every random consumer on (caption choice, crops, gain, Freq-MixStyle, SpecAugment, EDA, metadata dropout,
    dropout, the vocabulary's augmented passes): a 2-epoch run of synthcaps-tiny gives, bit for bit, the weights and
    metrics main at 9e74fc5 gave (``MAIN_9E74FC5``), and the same fingerprint."""
    from retrieval.train import fit

    cfg = TrialConfig.load("synthcaps-tiny").with_overrides({**CHECK_OVERRIDES, "data.cache_dir": str(cache_dir)})
    res = fit(cfg, tmp_path / "run")
    history = [{k: v for k, v in h.items() if not k.endswith("_time_s")} for h in res.history]
    got = {"fingerprint": cfg.fingerprint(),
           "best": _digest(torch.load(tmp_path / "run" / "best.pt", weights_only=True)),
           "last": _digest(torch.load(tmp_path / "run" / "last.pt", weights_only=True)["model"]),
           "history": hashlib.sha256(json.dumps(history, sort_keys=True).encode()).hexdigest()[:16]}
    assert got == MAIN_9E74FC5


# ---------------------------------------------------------------------------------------------- the streams
#: Split mode, train.seed 0: the init stream's torch seed, epoch 0's dropout seed, the first draw of its data stream.
PINNED = (14686814483601983478, 15580398151121842548, 4127101788109032328)


def test_stream_keys_are_fixed_and_distinct():
    keys = [stream_key(n) for n in (*SEED_STREAMS, "vocabulary", "variations", "backtranslation", "eda")]
    assert len(set(keys)) == len(keys)
    train = train_section(seed=0)  # the derivation is part of what a split-mode run means: pinned
    assert (init_seed(train), epoch_draws(train, 0)[1], int(epoch_draws(train, 0)[0].data.integers(2**62))) == PINNED
    assert stream_key("vocabulary") > 10_000  # never an epoch number (train.epochs <= 10000)


def test_a_stream_given_a_seed_draws_what_it_draws_under_that_train_seed():
    own = train_section(seed=0, init=3, data=3)
    under_3 = train_section(seed=3)
    under_0 = train_section(seed=0)
    assert init_seed(own) == init_seed(under_3) != init_seed(under_0)
    a, b, c = (epoch_draws(t, 1)[0] for t in (own, under_3, under_0))
    assert a.data.random() == b.data.random() != c.data.random()
    # the streams it does not set still follow train.seed
    assert a.metadata.random() == c.metadata.random()
    assert epoch_draws(own, 1)[1] == epoch_draws(under_0, 1)[1]


def test_streams_are_independent_of_each_other_and_of_the_epoch():
    train = train_section(seed=0)
    draws, model_seed = epoch_draws(train, 0)
    firsts = [draws.data.random(), draws.metadata.random(), draws.text["eda"].random(),
              draws.text["backtranslation"].random(), float(torch.rand(1, generator=draws.audio["gain"])),
              float(torch.rand(1, generator=draws.audio["specaugment"]))]
    assert len(set(firsts)) == len(firsts)
    assert len({model_seed, epoch_draws(train, 1)[1], init_seed(train)}) == 3
    assert epoch_draws(train, 1)[0].data.random() != firsts[0]


def test_redraw_keeps_the_initial_weights_and_the_data_order_and_draws_every_augmentation_anew():
    plain, redrawn = train_section(seed=4), TrialConfig().with_overrides({
        "train.seed": 4, "train.seed_streams.mode": "split", "train.seed_streams.redraw": 1}).train
    assert init_seed(plain) == init_seed(redrawn)
    (a, ma), (b, mb) = epoch_draws(plain, 2), epoch_draws(redrawn, 2)
    assert a.data.random() == b.data.random()  # the same batches, captions and crops
    assert a.metadata.random() != b.metadata.random() and ma != mb  # metadata dropout, model dropout
    assert a.text["eda"].random() != b.text["eda"].random()
    for name in ("gain", "specaugment", "mixstyle"):
        assert float(torch.rand(1, generator=a.audio[name])) != float(torch.rand(1, generator=b.audio[name]))
    with pytest.raises(ConfigError, match=r"train.seed_streams.redraw: .*mode=split"):
        TrialConfig().with_overrides({"train.seed_streams.redraw": 1})


def test_split_mode_config_checks():
    with pytest.raises(ConfigError, match=r"train.seed_streams.init: .*mode=split"):
        TrialConfig().with_overrides({"train.seed_streams.init": 3})
    with pytest.raises(ConfigError, match="train.seed_streams.mode"):
        TrialConfig().with_overrides({"train.seed_streams.mode": "paired"})
    with pytest.raises(ConfigError, match="train.seed_streams.data: must be in"):
        TrialConfig().with_overrides({"train.seed_streams.mode": "split", "train.seed_streams.data": -1})
    with pytest.raises(ConfigError, match="train.seed: must be in"):
        TrialConfig().with_overrides({"train.seed_streams.mode": "split", "train.seed": -1})
    with pytest.raises(ConfigError, match="train.seed_streams.specaug: unknown key"):
        TrialConfig().with_overrides({"train.seed_streams.specaug": 1})


def test_streams_keep_every_earlier_fingerprint_and_split_mode_has_its_own():
    from retrieval.config import parse_override

    base = TrialConfig.load("synthcaps-small")
    single = base.with_overrides({"train.seed_streams.mode": "single"})
    assert single.fingerprint() == base.fingerprint()
    split = base.with_overrides(dict(parse_override(o) for o in ("train.seed_streams.mode=split",)))
    own = split.with_overrides(dict([parse_override("train.seed_streams.init=3")]))
    assert own.train.seed_streams.init == 3
    assert len({base.fingerprint(), split.fingerprint(), own.fingerprint()}) == 3
    assert TrialConfig.from_dict(own.to_dict()).fingerprint() == own.fingerprint()


# ---------------------------------------------------------------------------------------------- paired draws
def _split_data(n: int = 12, n_mels: int = 8) -> SplitData:
    rng = np.random.default_rng(0)
    recs = [SimpleNamespace(captions=[f"a dog barks loudly near {i}", f"rain falls on the roof {i}"],
                            keywords=[f"k{i}"], file_name=f"{i}.wav") for i in range(n)]
    feats = [rng.normal(size=(n_mels, 40 + 7 * (i % 3))).astype(np.float32) for i in range(n)]
    return SplitData(SimpleNamespace(recordings=recs), feats)


ALL_ON = {"augment.gain.g_max": 3.0, "augment.spec.n_f": 1, "augment.spec.w_f": 3, "augment.spec.n_t": 2,
          "augment.spec.w_t": 10, "augment.mixstyle.p": 0.5, "augment.eda.p_eda": 0.5, "augment.eda.p_swp": 0.3,
          "augment.eda.p_del": 0.3, "augment.bt.p_bt": 0.5, "fusion.metadata_dropout": 0.4}
OFF = {"gain": {"augment.gain.g_max": 0.0}, "mixstyle": {"augment.mixstyle.p": 0.0},
       "specaugment": {"augment.spec.n_f": 0, "augment.spec.n_t": 0}, "eda": {"augment.eda.p_eda": 0.0},
       "backtranslation": {"augment.bt.p_bt": 0.0}, "metadata_dropout": {"fusion.metadata_dropout": 0.0}}


def one_epoch(overrides: dict, mode: str, epoch: int = 1):
    """The batches of epoch ``epoch`` of a 12-recording split in batches of 4, and the epoch's generators."""
    cfg = TrialConfig().with_overrides({**ALL_ON, **overrides, "train.seed": 4, "train.seed_streams.mode": mode})
    data = _split_data()
    table = {c: f"translated {c}" for r in data.split.recordings for c in r.captions}
    assembler = BatchAssembler(data, frames=32, fill=0.0, mean=torch.tensor(0.0), std=torch.tensor(1.0),
                               audio_augment=AudioAugment(cfg.augment),
                               text_augment=TextAugment(cfg.augment, back_translations=table), variation_keys=None,
                               metadata=data.metadata(), metadata_dropout=cfg.fusion.metadata_dropout,
                               device=torch.device("cpu"))
    draws, _ = epoch_draws(cfg.train, epoch)
    pairs = epoch_pairs(data, "clip", draws.data)
    global_state = torch.get_rng_state()
    batches = [assembler(pairs[i:i + 4], draws) for i in range(0, len(pairs), 4)]
    assert torch.equal(torch.get_rng_state(), global_state)  # no batch draws on torch's global generator
    return pairs, batches, draws, cfg


def _states(draws) -> dict[str, object]:
    """The state of every generator an epoch handed out (per step for the text and audio families)."""
    out = {"data": draws.data.bit_generator.state, "metadata": draws.metadata.bit_generator.state}
    out.update({f"text.{k}": g.bit_generator.state for k, g in draws.text.items()})
    out.update({f"audio.{k}": g.get_state() for k, g in draws.audio.items()})
    return out


def _same(a, b) -> bool:
    return torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b


@pytest.mark.parametrize("off", sorted(OFF))
def test_split_streams_switching_one_augmentation_off_leaves_every_other_draw_unchanged(off):
    pairs_on, on, draws_on, cfg_on = one_epoch({}, "split")
    pairs_off, off_batches, draws_off, cfg_off = one_epoch(OFF[off], "split")
    assert init_seed(cfg_on.train) == init_seed(cfg_off.train)  # the same initial weights
    assert pairs_on == pairs_off  # the same order and the same caption per recording
    for a, b in zip(on, off_batches, strict=True):
        assert torch.equal(a.lengths, b.lengths) and torch.equal(a.positives, b.positives)  # the same crops
        if off not in ("eda", "backtranslation"):
            assert a.captions == b.captions
        if off != "metadata_dropout":
            assert a.metadata == b.metadata
        if off == "specaugment":  # the off run is the on run without the masks: equal wherever nothing is masked
            masked = a.x == 0
            assert torch.equal(a.x[~masked], b.x[~masked]) and bool((b.x[masked] != 0).any())
        else:  # SpecAugment masks the same stripes
            assert torch.equal(a.x == 0, b.x == 0) and bool((a.x == 0).any())
    # every generator both runs drew from ends in the same state; the switched-off step's was never drawn from
    s_on, s_off = _states(draws_on), _states(draws_off)
    stepped = {"gain": "audio.gain", "mixstyle": "audio.mixstyle", "specaugment": "audio.specaugment",
               "eda": "text.eda", "backtranslation": "text.backtranslation"}.get(off)
    if stepped is not None:
        assert stepped in s_on and stepped not in s_off
    shared = set(s_on) & set(s_off)
    assert shared >= {"data", "metadata"}
    if off == "metadata_dropout":
        shared.discard("metadata")
    assert all(_same(s_on[k], s_off[k]) for k in shared), [k for k in shared if not _same(s_on[k], s_off[k])]


def test_with_one_seed_switching_the_gain_off_moves_the_other_audio_draws():
    """What split mode buys: with one seed the gain's draws come first from the shared generator, so without it
    SpecAugment masks other stripes (the paired comparison above would fail)."""
    _, on, _, _ = one_epoch({}, "single")
    _, off, _, _ = one_epoch(OFF["gain"], "single")
    assert any(not torch.equal(a.x == 0, b.x == 0) for a, b in zip(on, off))


def test_split_mode_fit_keeps_the_initial_weights_when_an_augmentation_is_off(tmp_path, cache_dir, monkeypatch):
    """The whole trainer: in split mode the model's initial weights are the same with and without SpecAugment."""
    from retrieval import train as train_mod
    from retrieval.train import fit

    seen = {}
    real = train_mod.train_one_epoch

    def spy(model, batches, opt, cfg, epoch, **kw):
        seen.setdefault(cfg.augment.spec.n_t, {k: v.clone() for k, v in model.state_dict().items()})
        return real(model, batches, opt, cfg, epoch, **kw)

    monkeypatch.setattr(train_mod, "train_one_epoch", spy)
    base = TrialConfig.load("synthcaps-tiny").with_overrides({
        "data.cache_dir": str(cache_dir), "train.progress": False, "train.num_threads": 1, "train.epochs": 1,
        "train.seed_streams.mode": "split", "augment.gain.g_max": 3.0})
    fit(base.with_overrides({"augment.spec.n_t": 2}), tmp_path / "on")
    fit(base, tmp_path / "off")
    a, b = seen[2], seen[0]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    single = base.with_overrides({"train.seed_streams.mode": "single"})
    assert init_seed(base.train) != init_seed(single.train) == single.train.seed
