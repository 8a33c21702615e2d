"""One contract suite over every entry of every registry (the style of optuna's ``testing/pytest_samplers.py``).

The cases are collected from the registries themselves (``retrieval.config.REGISTRIES`` and
``studies.spec.REGISTRIES``), so a new entry, built-in or registered by a plug-in before collection, is tested
without any edit here; a new *kind* of registry fails :func:`test_every_registry_has_a_contract` until it gets one.
Each entry is built from its own tiny example (``Entry.example``: config overrides, or a sampler's / scheduler's
options) plus the resources its kind needs (``Entry.meta["needs"]``, provided by :class:`Resources`).

Per entry, four checks (``test_build``, ``test_behaviour``, ``test_determinism``, ``test_config_roundtrip``):

============== ============================================================================================
kind           behaviour
============== ============================================================================================
audio encoder  forward + backward: output shapes, a boolean mask following the lengths, finite gradients
text encoder   tokenize + forward + backward: ``[B, out_dim]``, finite gradients into the embeddings
fusion         items / queries / scores: parts ``[N, K, D]``, weights summing to 1, scores in [-1, 1], gradients
data set       a tiny format-exact copy: every role's split loads (recordings with audio and captions), the
               splits are listed, ``summarize`` reports every split
frontend       waveform -> float32 ``[n_mels, n_frames(len)]``, finite; a batch equals the clips one by one
augmentation   the default (off) settings build nothing (an exact no-op, nothing drawn); the example's step
               keeps the shape (audio) / returns captions (text) and changes something
sampler        a small conditional space: every trial respects the conditions and ranges (grid: exactly the
               grid points)
scheduler      good and bad trials: decisions are stop *requests*, the best trial is never stopped, a bad
               trial is stopped when the entry ``prunes`` (``fifo``: never)
============== ============================================================================================

Determinism: the same seed (generator) gives the same weights and outputs, the same split, the same features,
the same augmentation, the same proposals, the same decisions. Config round trip: the entry's config (a
``TrialConfig``, or the resolved study spec) survives ``to_dict`` / YAML / ``from_dict`` unchanged with the same
fingerprint, and it still selects the entry.

:func:`test_a_toy_fusion_needs_no_other_edit` registers a fusion inside the test, runs the fusion contract on it,
and trains one epoch of SynthCaps tiny with it: the config, the study specs, the model and ``fit`` accept it.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
import yaml

from retrieval.config import REGISTRIES as LIBRARY_REGISTRIES
from retrieval.config import AugmentConfig, TrialConfig, augmentation_section, augmentation_steps
from retrieval.registry import Entry, Registry, resolve
from studies.spec import REGISTRIES as STUDY_REGISTRIES
from studies.testing import FakeTuneController, FakeTuneTrial
from tests.fixtures.tiny import SAMPLE_CAPTIONS, TINY_WRITERS

REGISTRIES: tuple[Registry, ...] = LIBRARY_REGISTRIES + STUDY_REGISTRIES
CASES = [pytest.param(reg, name, id=f"{reg.kind.replace(' ', '-')}:{name}") for reg in REGISTRIES
         for name in reg.names()]

CORPUS = list(SAMPLE_CAPTIONS[:8]) * 3


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny inputs gain nothing from threads (and two shared cores make a second thread wait)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# --------------------------------------------------------------------------------------------- resources
class Resources:
    """What an entry's example needs besides its overrides (``Entry.meta["needs"]``), made once per session."""

    def __init__(self, tmp_path_factory):
        self._tmp = tmp_path_factory
        self._made: dict[str, Any] = {}

    def _once(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self._made:
            self._made[name] = make()
        return self._made[name]

    def hf_model(self) -> Path:
        """A small random BERT + WordPiece tokenizer saved with save_pretrained (no network)."""
        def make() -> Path:
            from transformers import BertConfig, BertModel, BertTokenizer

            from retrieval.encoders.text import learn_wordpiece_vocab, preprocess_caption

            folder = self._tmp.mktemp("hf-bert")
            vocab = learn_wordpiece_vocab({w: 2 for c in CORPUS for w in preprocess_caption(c).split()}, 200)
            torch.manual_seed(0)
            BertTokenizer(vocab={tok: i for i, tok in enumerate(vocab)}).save_pretrained(folder)
            BertModel(BertConfig(vocab_size=len(vocab), hidden_size=24, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=48, max_position_embeddings=64)).save_pretrained(folder)
            return folder

        return self._once("hf_model", make)

    def tiny_data(self, entry: Entry) -> Path:
        """The entry's tiny format-exact copy: a built-in's writer of ``tests/fixtures/tiny.py``, or a plug-in's own
        (``meta["tiny"]``: a ``(root) -> root`` writer or its ``"module:function"``)."""
        writer = entry.meta.get("tiny") or TINY_WRITERS[entry.name]
        writer = resolve(writer) if isinstance(writer, str) else writer
        return self._once(f"data:{entry.name}", lambda: Path(writer(self._tmp.mktemp(f"tiny-{entry.name}"))))

    def overrides(self, entry: Entry) -> dict[str, Any]:
        """Config overrides standing for the entry's needs (a folder found only at test time)."""
        return {"text_encoder.path": str(self.hf_model())} if "hf_model" in entry.meta.get("needs", ()) else {}

    def augmentation(self) -> dict[str, Any]:
        """The run-level resources of the text augmentations: a variations file's content, a back-translation
        table (keyed by the captions the contract feeds them)."""
        from retrieval.augment.variations import CaptionVariations

        return {"variations": CaptionVariations(path="variations.json",
                                                by_file={"k": ("a variant of the caption", "another variant")}),
                "back_translations": {c: c.upper() for c in CORPUS}}


@pytest.fixture(scope="session")
def resources(tmp_path_factory) -> Resources:
    return Resources(tmp_path_factory)


def example_config(registry: Registry, name: str, resources: Resources) -> TrialConfig:
    """The entry's example: ``{registry.key: name}``, its ``example`` overrides and what its needs stand for."""
    entry = registry.entry(name)
    overrides = ({registry.key: name} if registry.key else {}) | dict(entry.example) | resources.overrides(entry)
    return TrialConfig().with_overrides(overrides)


# --------------------------------------------------------------------------------------------- contracts
class Contract:
    """The checks of one kind of registry; ``config`` is the entry's example config."""

    def build(self, registry: Registry, name: str, resources: Resources) -> Any:
        raise NotImplementedError

    def behaviour(self, registry: Registry, name: str, resources: Resources, tmp_path: Path) -> None:
        raise NotImplementedError

    def determinism(self, registry: Registry, name: str, resources: Resources, tmp_path: Path) -> None:
        raise NotImplementedError

    def roundtrip(self, registry: Registry, name: str, resources: Resources) -> None:
        cfg = example_config(registry, name, resources)
        assert self.selects(cfg, registry, name, resources)
        again = TrialConfig.from_dict(cfg.to_dict())
        assert again == cfg and again.fingerprint() == cfg.fingerprint()
        via_yaml = TrialConfig.from_dict(yaml.safe_load(yaml.safe_dump(cfg.to_dict(), sort_keys=False)))
        assert via_yaml == cfg and via_yaml.fingerprint() == cfg.fingerprint()
        assert example_config(registry, name, resources).fingerprint() == cfg.fingerprint()  # stable
        assert TrialConfig().with_overrides(_diff(TrialConfig().to_dict(), cfg.to_dict())) == cfg

    def selects(self, cfg: TrialConfig, registry: Registry, name: str, resources: Resources) -> bool:
        """Whether ``cfg`` uses the entry."""
        return _get(cfg.to_dict(), registry.key) == name


def _get(raw: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        raw = raw[part]
    return raw


def _diff(base: dict, other: dict, prefix: str = "") -> dict[str, Any]:
    """Dotted overrides that turn ``base`` into ``other``."""
    out: dict[str, Any] = {}
    for k, v in other.items():
        if isinstance(v, dict):
            out |= _diff(base.get(k, {}), v, f"{prefix}{k}.")
        elif base.get(k) != v:
            out[f"{prefix}{k}"] = v
    return out


def _finite_grads(module: torch.nn.Module) -> bool:
    grads = [p.grad for p in module.parameters() if p.requires_grad and p.grad is not None]
    return bool(grads) and all(torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)


def _same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


class AudioEncoderContract(Contract):
    def build(self, registry, name, resources):
        from retrieval.encoders import AudioEncoder, build_audio_encoder

        cfg = example_config(registry, name, resources)
        torch.manual_seed(0)
        enc = build_audio_encoder(cfg.audio_encoder, cfg.features.n_mels)
        assert isinstance(enc, AudioEncoder) and enc.name == name and enc.n_mels == cfg.features.n_mels
        assert enc.out_dim > 0 and enc.seq_dim > 0
        return enc

    @staticmethod
    def inputs(enc, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        n_frames = max(64, 2 * enc.time_stride, enc.min_frames)
        x = torch.randn(2, enc.n_mels, n_frames, generator=torch.Generator().manual_seed(seed))
        x[1, :, n_frames // 3:] = 0.0
        return x, torch.tensor([n_frames, n_frames // 3])

    def behaviour(self, registry, name, resources, tmp_path):
        enc = self.build(registry, name, resources).train()
        x, lengths = self.inputs(enc)
        out = enc(x, lengths)
        t_out = enc.output_frames(x.shape[2])
        assert out.sequence.shape == (2, t_out, enc.seq_dim) and out.pooled.shape == (2, enc.out_dim)
        assert out.mask.shape == (2, t_out) and out.mask.dtype == torch.bool
        assert out.mask[0].all() and out.mask[1].sum() < out.mask[0].sum()  # the padded clip has fewer frames
        assert torch.isfinite(out.sequence).all() and torch.isfinite(out.pooled).all()
        (out.pooled.square().mean() + out.sequence[out.mask].mean()).backward()
        assert _finite_grads(enc)

    def determinism(self, registry, name, resources, tmp_path):
        a, b = (self.build(registry, name, resources).eval() for _ in range(2))
        assert _same_state(a, b)
        x, lengths = self.inputs(a)
        with torch.no_grad():
            out_a, out_b = a(x, lengths), b(x, lengths)
        assert torch.equal(out_a.pooled, out_b.pooled) and torch.equal(out_a.sequence, out_b.sequence)


class TextEncoderContract(Contract):
    TEXTS = ["A dog barks.", "Rain falls on a metal roof, and birds chirp in the trees!", ""]

    def build(self, registry, name, resources):
        from retrieval.encoders.text import TextEncoder, build_text_encoder

        cfg = example_config(registry, name, resources)
        torch.manual_seed(0)
        enc = build_text_encoder(cfg.text_encoder, corpus=CORPUS)
        assert isinstance(enc, TextEncoder) and enc.name == name and enc.out_dim > 0
        return enc

    def behaviour(self, registry, name, resources, tmp_path):
        enc = self.build(registry, name, resources).train()
        batch = enc.tokenize(self.TEXTS)
        assert set(batch) == {"input_ids", "attention_mask"} and batch["input_ids"].shape[1] <= enc.max_tokens
        out = enc(batch)
        assert out.shape == (3, enc.out_dim) and torch.isfinite(out).all()
        out.square().mean().backward()
        emb = enc.model.get_input_embeddings().weight
        assert emb.grad is not None and torch.isfinite(emb.grad).all() and emb.grad.abs().sum() > 0

    def determinism(self, registry, name, resources, tmp_path):
        a, b = (self.build(registry, name, resources).eval() for _ in range(2))
        assert _same_state(a, b)
        with torch.no_grad():
            assert torch.equal(a.encode(self.TEXTS), b.encode(self.TEXTS))


class FusionContract(Contract):
    AUDIO, SEQ, TEXT = 24, 20, 16

    def build(self, registry, name, resources):
        from retrieval.fusion import FusionHead, build_fusion

        cfg = example_config(registry, name, resources)
        torch.manual_seed(0)
        head = build_fusion(cfg.fusion, audio_dim=self.AUDIO, audio_seq_dim=self.SEQ, text_dim=self.TEXT)
        assert isinstance(head, FusionHead) and head.n_parts >= 1
        return head

    def inputs(self, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        seq = torch.randn(5, 7, self.SEQ, generator=g, requires_grad=True)
        mask = torch.ones(5, 7, dtype=torch.bool)
        mask[0, 4:] = False
        pooled = torch.randn(5, self.AUDIO, generator=g, requires_grad=True)
        meta = torch.randn(5, self.TEXT, generator=g, requires_grad=True)
        has = torch.tensor([True, False, True, True, True])
        text = torch.randn(3, self.TEXT, generator=g, requires_grad=True)
        return seq, mask, pooled, meta, has, text

    def scores(self, head, seed: int = 0):
        from retrieval.fusion import similarity

        seq, mask, pooled, meta, has, text = inputs = self.inputs(seed)
        items = head.items(seq, mask, pooled, meta if head.uses_metadata else None, has)
        queries = head.queries(text)
        return items, queries, similarity(queries, items), inputs

    def behaviour(self, registry, name, resources, tmp_path):
        head = self.build(registry, name, resources).train()
        items, queries, s, (seq, mask, pooled, meta, has, text) = self.scores(head)
        d = example_config(registry, name, resources).fusion.embed_dim
        assert items.parts.shape == (5, head.n_parts, d) and queries.parts.shape == (3, head.n_parts, d)
        torch.testing.assert_close(queries.weights.sum(1), torch.ones(3))
        assert s.shape == (3, 5) and s.abs().max() <= 1.0 + 1e-5
        s.sum().backward()
        assert text.grad is not None and text.grad.abs().sum() > 0 and _finite_grads(head)
        if head.uses_metadata:
            assert meta.grad is not None and meta.grad[has].abs().sum() > 0

    def determinism(self, registry, name, resources, tmp_path):
        a, b = (self.build(registry, name, resources).eval() for _ in range(2))
        assert _same_state(a, b)
        with torch.no_grad():
            assert torch.equal(self.scores(a)[2], self.scores(b)[2])


class DataSetContract(Contract):
    def build(self, registry, name, resources):
        from retrieval.data.datasets import DataSetLoader, loader, role_split

        source = loader(name)
        entry = registry.entry(name)
        assert isinstance(source, DataSetLoader) and isinstance(entry.meta["strict"], bool)
        assert role_split(name, "train") is not None  # every data set can be trained on
        return source

    def splits(self, registry, name, resources):
        from retrieval.data.datasets import load_split, roles

        self.build(registry, name, resources)
        root = resources.tiny_data(registry.entry(name))
        return root, {role: load_split(name, root, split) for role, split in roles(name).items()}

    def behaviour(self, registry, name, resources, tmp_path):
        from retrieval.data.clotho import Split
        from retrieval.data.datasets import available_splits, roles, split_name, summarize

        root, splits = self.splits(registry, name, resources)
        assert set(roles(name).values()) <= set(available_splits(name, root))
        for role, split in splits.items():
            assert isinstance(split, Split) and split.name == roles(name)[role]
            assert split.recordings and all(r.captions and r.path.is_file() for r in split.recordings)
            assert len({r.file_name for r in split.recordings}) == len(split.recordings)
            assert split_name(name, {"train": "development", "val": "validation", "test": "evaluation"}[role]) \
                == split.name  # the Clotho names stand for every data set's splits
        summary = summarize(name, root, durations=False)
        assert set(roles(name).values()) <= set(summary)
        assert all({"recordings", "captions", "missing_audio", "excluded", "strict"} <= set(s)
                   for s in summary.values())

    def determinism(self, registry, name, resources, tmp_path):
        _, a = self.splits(registry, name, resources)
        _, b = self.splits(registry, name, resources)
        assert a == b

    def selects(self, cfg, registry, name, resources):
        return name in (cfg.data.dataset, *cfg.data.train_on)


class FrontendContract(Contract):
    def build(self, registry, name, resources):
        from retrieval.data.features import Frontend, Recipe

        fe = Frontend.from_config(example_config(registry, name, resources).features)
        assert fe.kind == name and isinstance(fe.recipe, Recipe) and len(fe.key()) == 12
        return fe

    @staticmethod
    def wave(fe, seconds: float = 0.5, seed: int = 0) -> np.ndarray:
        return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * fe.sample_rate))).astype(np.float32)

    def behaviour(self, registry, name, resources, tmp_path):
        from retrieval.data.features import LogMel, compute_logmel

        fe = self.build(registry, name, resources)
        for seconds in (0.5, 0.013):  # a clip, and one shorter than the STFT window (zero padding)
            wave = self.wave(fe, seconds)
            out = compute_logmel(wave, fe)
            assert out.dtype == np.float32 and out.shape == (fe.n_mels, fe.n_frames(len(wave)))
            assert np.isfinite(out).all()
        a, b = self.wave(fe, seed=1), self.wave(fe, seed=2)
        batch = LogMel(fe)(torch.from_numpy(np.stack([a, b]))).numpy()
        np.testing.assert_allclose(batch[1], compute_logmel(b, fe), rtol=1e-5, atol=1e-4)

    def determinism(self, registry, name, resources, tmp_path):
        from retrieval.data.features import compute_logmel

        a, b = self.build(registry, name, resources), self.build(registry, name, resources)
        assert a == b and a.key() == b.key()
        assert np.array_equal(compute_logmel(self.wave(a), a), compute_logmel(self.wave(b), b))


class AugmentationContract(Contract):
    CAPTIONS = CORPUS[:8] * 4

    def step(self, registry, name, resources, augment: AugmentConfig):
        entry = registry.entry(name)
        return registry.get(name)(augmentation_section(augment, entry), **resources.augmentation())

    def build(self, registry, name, resources):
        entry = registry.entry(name)
        assert entry.meta["modality"] in ("audio", "text") and entry in augmentation_steps(entry.meta["modality"])
        if entry.meta["modality"] == "audio":
            assert entry.meta["stage"] in ("raw", "normalised") and entry.meta["switches"]
        else:
            assert entry.meta["counter"]
        # p = 0: the default settings switch every augmentation off: nothing is built, nothing drawn
        assert self.step(registry, name, resources, AugmentConfig()) is None
        step = self.step(registry, name, resources, example_config(registry, name, resources).augment)
        assert step is not None
        return step

    def apply(self, registry, name, resources, seed: int):
        step = self.build(registry, name, resources)
        if registry.entry(name).meta["modality"] == "audio":
            x = torch.randn(4, 16, 50, generator=torch.Generator().manual_seed(0))
            lengths = torch.tensor([50, 40, 30, 20])
            return x, step(x.clone(), lengths, torch.Generator().manual_seed(seed))
        rng = np.random.default_rng(seed)
        return self.CAPTIONS, [step(c, rng, "k") for c in self.CAPTIONS]

    def behaviour(self, registry, name, resources, tmp_path):
        x, out = self.apply(registry, name, resources, seed=0)
        if registry.entry(name).meta["modality"] == "audio":
            assert out.shape == x.shape and out.dtype == x.dtype and torch.isfinite(out).all()
            assert not torch.equal(out, x)
        else:
            assert all(isinstance(c, str) and isinstance(counted, (bool, np.bool_)) for c, counted in out)
            assert any(c != orig for (c, _), orig in zip(out, x))
        self.off_pipeline_is_identity()

    @staticmethod
    def off_pipeline_is_identity() -> None:
        from retrieval.augment.audio import AudioAugment
        from retrieval.augment.text import TextAugment

        audio, text = AudioAugment(AugmentConfig()), TextAugment(AugmentConfig())
        x, g = torch.randn(2, 8, 10), torch.Generator().manual_seed(0)
        state = g.get_state()
        assert audio.gain(x, g) is x and audio.spectral(x, None, g) is x and torch.equal(g.get_state(), state)
        rng = np.random.default_rng(0)
        assert text(["a dog barks"], rng) == ["a dog barks"] and rng.random() == np.random.default_rng(0).random()

    def determinism(self, registry, name, resources, tmp_path):
        (_, a), (_, b), (_, c) = (self.apply(registry, name, resources, seed=s) for s in (3, 3, 4))
        if registry.entry(name).meta["modality"] == "audio":
            assert torch.equal(a, b) and not torch.equal(a, c)
        else:
            assert a == b

    def selects(self, cfg, registry, name, resources):
        return self.step(registry, name, resources, cfg.augment) is not None


# ---- the study registries: a spec round trip instead of a TrialConfig one
def study_spec(registry: Registry, name: str, *, grid: bool | None = None) -> dict[str, Any]:
    """A small study spec using the entry (with its example options) on a conditional space."""
    from studies.spec import SAMPLERS

    entry = registry.entry(name)
    section = {"kind": name, **entry.example}
    sampler = section if registry is SAMPLERS else {"kind": "random"}
    grid = SAMPLERS.entry(sampler["kind"]).meta.get("grid", False) if grid is None else grid
    space: dict[str, Any] = {"fusion.kind": {"categorical": ["none", "mid"]},
                             "fusion.mid.layers": {"int": [1, 2], "when": {"fusion.kind": "mid"}},
                             "augment.spec.n_t": {"int": [0, 2]}}
    if not grid:
        space["optim.lr_audio"] = {"loguniform": [1e-4, 1e-2]}
    return {"name": f"contract-{name}", "base": {"train": {"epochs": 4}}, "space": space, "sampler": sampler,
            "scheduler": section if registry is not SAMPLERS else {"kind": "fifo"},
            "budget": {"num_samples": None if grid else 8, "max_epochs": 4}}


class StudyContract(Contract):
    def roundtrip(self, registry, name, resources):
        from studies.spec import load_spec

        spec = load_spec(study_spec(registry, name))
        section = spec.sampler if registry.key.startswith("sampler") else spec.scheduler
        assert section["kind"] == name and set(registry.entry(name).meta["options"]) <= set(section)
        again = load_spec(spec.to_dict())
        assert again.to_dict() == spec.to_dict() and again.base.fingerprint() == spec.base.fingerprint()
        via_yaml = load_spec(yaml.safe_load(yaml.safe_dump(spec.to_dict())))
        assert via_yaml.to_dict() == spec.to_dict()


class SamplerContract(StudyContract):
    def build(self, registry, name, resources):
        import optuna

        from studies.spec import load_spec
        from studies.study import build_sampler

        spec = load_spec(study_spec(registry, name))
        sampler = build_sampler(spec.sampler)
        assert isinstance(sampler, optuna.samplers.BaseSampler)
        return spec

    def sample(self, registry, name, resources, seed: int | None = None) -> list[dict[str, Any]]:
        import optuna

        from studies.spec import grid_points
        from studies.study import build_sampler

        spec = self.build(registry, name, resources)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize", sampler=build_sampler(spec.sampler, seed))
        n = spec.num_samples
        if spec.is_grid:
            for point in grid_points(spec):
                study.enqueue_trial(point)
        space, out = spec.space, []
        for _ in range(n):
            trial = study.ask()
            params = space(trial)
            study.tell(trial, -abs(math.log10(params.get("optim.lr_audio", 1e-3)) + 3) + params["augment.spec.n_t"])
            out.append(params)
        return out

    def behaviour(self, registry, name, resources, tmp_path):
        from studies.spec import grid_points, load_spec

        spec = load_spec(study_spec(registry, name))
        proposals = self.sample(registry, name, resources)
        assert len(proposals) == spec.num_samples
        for params in proposals:
            for p in spec.params:
                assert (p.key in params) == p.active(params), (p.key, params)  # conditions hold
                if p.key in params:
                    assert p.contains(params[p.key]), (p.key, params[p.key])
        if spec.is_grid:
            key = lambda d: sorted(d.items())  # noqa: E731
            assert sorted(map(key, proposals)) == sorted(map(key, grid_points(spec)))

    def determinism(self, registry, name, resources, tmp_path):
        assert self.sample(registry, name, resources, seed=5) == self.sample(registry, name, resources, seed=5)


class SchedulerContract(StudyContract):
    #: objective values of six trials, reported epoch by epoch in this order: three good, three bad
    VALUES = (0.9, 0.8, 0.7, 0.1, 0.05, 0.0)

    def build(self, registry, name, resources):
        from ray.tune.schedulers import TrialScheduler

        from studies.schedulers import build_scheduler
        from studies.spec import load_spec

        spec = load_spec(study_spec(registry, name))
        sched = build_scheduler(spec.scheduler, metric="val_map10", mode="max", max_epochs=spec.max_epochs,
                                deadline=None)
        assert isinstance(sched, TrialScheduler)
        return sched

    def replay(self, registry, name, resources, run_root: Path) -> tuple[list[str], set[int]]:
        """The decisions and the trials asked to stop (Ray's AsyncHyperBand draws brackets from NumPy's global
        generator: it is seeded, as a study's would have to be for a replay)."""
        from studies.trainable import STOP_FILE, run_dir_of

        np.random.seed(0)
        sched = self.build(registry, name, resources)
        trials = [FakeTuneTrial(run_root, i) for i in range(len(self.VALUES))]
        controller = FakeTuneController(trials)
        for t in trials:
            sched.on_trial_add(controller, t)
        decisions = []
        for epoch in (1, 2, 3):
            for t, value in zip(trials, self.VALUES):
                if not (run_dir_of(t.config) / STOP_FILE).exists():
                    decisions.append(sched.on_trial_result(controller, t, {"epoch": epoch, "val_map10": value}))
        stopped = {i for i, t in enumerate(trials) if (run_dir_of(t.config) / STOP_FILE).exists()}
        return decisions, stopped

    def behaviour(self, registry, name, resources, tmp_path):
        from ray.tune.schedulers import TrialScheduler

        decisions, stopped = self.replay(registry, name, resources, tmp_path)
        assert set(decisions) == {TrialScheduler.CONTINUE}  # a stop is a request: the trial finishes its run
        assert 0 not in stopped  # the best trial runs on
        if registry.entry(name).meta["prunes"]:
            assert stopped & {3, 4, 5}, "a scheduler that prunes stopped none of the bad trials"
        else:
            assert not stopped

    def determinism(self, registry, name, resources, tmp_path):
        assert self.replay(registry, name, resources, tmp_path / "a") == \
            self.replay(registry, name, resources, tmp_path / "b")


CONTRACTS: dict[str, Contract] = {
    "audio encoder": AudioEncoderContract(), "text encoder": TextEncoderContract(), "fusion": FusionContract(),
    "data set": DataSetContract(), "frontend": FrontendContract(), "augmentation": AugmentationContract(),
    "sampler": SamplerContract(), "scheduler": SchedulerContract(),
}


# --------------------------------------------------------------------------------------------- the suite
def test_every_registry_has_a_contract():
    assert {r.kind for r in REGISTRIES} == set(CONTRACTS)
    assert all(len(r) for r in REGISTRIES)


@pytest.mark.parametrize("registry, name", CASES)
def test_entry_is_documented_and_resolves(registry, name):
    entry = registry.entry(name)
    assert entry.name == name and entry.description and name in registry
    assert registry.get(name) is entry.load() is not None  # a declared target imports and is what get returns
    if registry in STUDY_REGISTRIES:  # the example holds options of the kind
        assert set(entry.example) <= set(entry.meta["options"])
    else:  # dotted config keys (the round trip builds the config from them)
        assert all(isinstance(k, str) and "." in k for k in entry.example)


@pytest.mark.parametrize("registry, name", CASES)
def test_build(registry, name, resources):
    CONTRACTS[registry.kind].build(registry, name, resources)


@pytest.mark.parametrize("registry, name", CASES)
def test_behaviour(registry, name, resources, tmp_path):
    CONTRACTS[registry.kind].behaviour(registry, name, resources, tmp_path)


@pytest.mark.parametrize("registry, name", CASES)
def test_determinism(registry, name, resources, tmp_path):
    CONTRACTS[registry.kind].determinism(registry, name, resources, tmp_path)


@pytest.mark.parametrize("registry, name", CASES)
def test_config_roundtrip(registry, name, resources):
    CONTRACTS[registry.kind].roundtrip(registry, name, resources)


@pytest.mark.parametrize("registry", REGISTRIES, ids=lambda r: r.kind.replace(" ", "-"))
def test_unknown_names_name_the_key_and_list_the_known_ones(registry):
    with pytest.raises(registry.error) as err:
        registry.get("no-such-entry")
    msg = str(err.value)
    assert "unknown" in msg and "'no-such-entry'" in msg and all(n in msg for n in registry.names())
    assert registry.key is None or msg.startswith(f"{registry.key}: ")


# --------------------------------------------------------------------------------------------- a toy fusion
def test_a_toy_fusion_needs_no_other_edit(tmp_path, cache_dir, resources):
    """Register a fusion kind here, in the test: the contract, config validation, study specs, model building and
    ``fit`` accept ``fusion.kind=toy-average`` with no other edit."""
    from torch import nn

    from retrieval.config import FUSIONS, ConfigError
    from retrieval.fusion import FusionHead, ItemEmbedding, QueryEmbedding
    from retrieval.train import fit
    from studies.spec import load_spec

    class AverageFusion(FusionHead):
        """The item is a learnable-weighted average of the projected audio and metadata (one part)."""

        uses_metadata = True

        def __init__(self, cfg, audio_dim, audio_seq_dim, text_dim):
            super().__init__()
            self.audio_proj = nn.Linear(audio_dim, cfg.embed_dim)
            self.meta_proj = nn.Linear(text_dim, cfg.embed_dim)
            self.text_proj = nn.Linear(text_dim, cfg.embed_dim)
            self.mix = nn.Parameter(torch.zeros(()))  # sigmoid(0): an even average

        def items(self, sequence, mask, pooled, metadata=None, has_metadata=None):
            fused = self.audio_proj(pooled)
            if metadata is not None:
                w = torch.sigmoid(self.mix) * torch.ones(fused.shape[0], 1)
                if has_metadata is not None:
                    w = w * has_metadata.to(fused.dtype).unsqueeze(-1)
                fused = (1 - w) * fused + w * self.meta_proj(metadata)
            return ItemEmbedding(nn.functional.normalize(fused, dim=-1).unsqueeze(1))

        def queries(self, text):
            q = nn.functional.normalize(self.text_proj(text), dim=-1).unsqueeze(1)
            return QueryEmbedding(q, torch.ones(text.shape[0], 1, device=text.device))

    with FUSIONS.temporary("toy-average", AverageFusion, description="a learnable average of audio and metadata"):
        contract = CONTRACTS[FUSIONS.kind]  # the shared contract, as for the built-in kinds
        contract.build(FUSIONS, "toy-average", resources)
        contract.behaviour(FUSIONS, "toy-average", resources, tmp_path)
        contract.determinism(FUSIONS, "toy-average", resources, tmp_path)
        contract.roundtrip(FUSIONS, "toy-average", resources)

        spec = load_spec({"name": "toy", "base": "synthcaps-tiny", "sampler": {"kind": "grid"},
                          "space": {"fusion.kind": {"categorical": ["late", "toy-average"]}}})
        assert spec.trial_config({"fusion.kind": "toy-average"}, 0).fusion.kind == "toy-average"

        cfg = TrialConfig.load("synthcaps-tiny").with_overrides(
            {"fusion.kind": "toy-average", "train.epochs": 1, "train.progress": False,
             "data.cache_dir": str(cache_dir)})
        result = fit(cfg, tmp_path / "run")
        assert result.epochs_trained == 1 and math.isfinite(result.history[0]["loss"])
        assert (tmp_path / "run" / "per_query.csv").is_file()
        state = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
        assert "fusion.mix" in state and "fusion.meta_proj.weight" in state
    assert "toy-average" not in FUSIONS and FUSIONS.names() == ["late", "mid", "none"]
    with pytest.raises(ConfigError, match="fusion.kind: unknown fusion 'toy-average'"):
        TrialConfig().with_overrides({"fusion.kind": "toy-average"})
