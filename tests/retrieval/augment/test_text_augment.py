"""EDA text augmentation."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from retrieval.augment.text import TextAugment, check_text_augment_requirements, eda
from retrieval.augment.wordnet import WORDNET_INSTALL_HINT, WordNetMissing, find_wordnet_dir, load_wordnet
from retrieval.config import AugmentConfig, EDAConfig

CAPTION = "a dog barks loudly while the rain falls on a metal roof"
WORDS = CAPTION.split()
ZERO = dict(p_syn=0.0, p_swp=0.0, p_ins=0.0, p_del=0.0)

pytestmark = pytest.mark.usefixtures("fresh_wordnet_cache")

REAL_DIR = find_wordnet_dir()
needs_wordnet = pytest.mark.skipif(
    REAL_DIR is None,
    reason=f"WordNet database not found ($WORDNET_DIR, /usr/share/wordnet); install with `{WORDNET_INSTALL_HINT}`")


class StubWordNet:
    """A WordNet stand-in with a fixed synonym table (no database needed)."""

    table = {"dog": ["hound", "domestic dog"], "rain": ["rainfall"], "roof": ["top"], "loudly": ["aloud"]}

    def synonyms(self, word: str) -> list[str]:
        return list(self.table.get(word, []))


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def ops(**kw) -> dict:
    return {**ZERO, **kw}


# --------------------------------------------------------------------------------------------- eda()
def test_all_zero_is_identity_and_draws_nothing():
    r = rng(1)
    state = r.bit_generator.state
    caption = "The Rain pours down."
    assert eda(caption, **ZERO, rng=r, wordnet=StubWordNet()) is caption
    assert r.bit_generator.state == state
    assert eda("", **ops(p_del=1.0), rng=r, wordnet=None) == ""


def test_deletion_never_empties():
    for seed in range(50):
        out = eda("rain", **ops(p_del=1.0), rng=rng(seed), wordnet=None)
        assert out == "rain"
        out = eda(CAPTION, **ops(p_del=1.0), rng=rng(seed), wordnet=None)
        assert len(out.split()) == 1 and out in WORDS


def test_deletion_keeps_order_of_remaining_words():
    changed = 0
    for seed in range(30):
        out = eda(CAPTION, **ops(p_del=0.3), rng=rng(seed), wordnet=None).split()
        it = iter(WORDS)
        assert all(w in it for w in out)  # a subsequence of the original
        assert 1 <= len(out) <= len(WORDS)
        changed += len(out) < len(WORDS)
    assert changed > 20


def test_swap_preserves_the_multiset_of_words():
    changed = 0
    for seed in range(30):
        out = eda(CAPTION, **ops(p_swp=0.5), rng=rng(seed), wordnet=None).split()
        assert Counter(out) == Counter(WORDS)
        changed += out != WORDS
    assert changed > 20


def test_insertion_adds_synonyms_or_sentence_words():
    for seed in range(20):
        out = eda(CAPTION, **ops(p_ins=1.0), rng=rng(seed), wordnet=StubWordNet()).split()
        assert len(out) > len(WORDS)
        extra = Counter(out) - Counter(WORDS)
        assert sum(extra.values()) == len(out) - len(WORDS)  # nothing removed
        allowed = set(WORDS) | {w for syns in StubWordNet.table.values() for s in syns for w in s.split()}
        assert set(extra) <= allowed
    # without WordNet: a random word of the sentence is inserted
    out = eda(CAPTION, **ops(p_ins=1.0), rng=rng(0), wordnet=None).split()
    assert len(out) == 2 * len(WORDS) and set(out) == set(WORDS)


def test_synonym_replacement_with_stub():
    out = eda(CAPTION, **ops(p_syn=1.0), rng=rng(0), wordnet=StubWordNet())
    words = out.split(" ")
    assert "rain" not in words and "roof" not in words and "loudly" not in words
    assert "rainfall" in words and "top" in words and "aloud" in words
    assert out.startswith("a hound barks") or out.startswith("a domestic dog barks")
    assert eda("the dog.", **ops(p_syn=1.0), rng=rng(0), wordnet=StubWordNet()) in ("the hound.",
                                                                                      "the domestic dog.")


def test_synonym_replacement_requires_wordnet():
    with pytest.raises(ValueError, match="WordNet"):
        eda(CAPTION, **ops(p_syn=0.5), rng=rng(0), wordnet=None)


@needs_wordnet
def test_synonym_replacement_uses_real_wordnet():
    wn = load_wordnet()
    syns = wn.synonyms("car")
    for seed in range(5):
        out = eda("car", **ops(p_syn=1.0), rng=rng(seed), wordnet=wn)
        assert out != "car" and out in syns
    out = eda("the car", **ops(p_syn=1.0), rng=rng(0), wordnet=wn)
    assert out.startswith("the ") and out[4:] in syns


def test_one_operation_per_caption_chosen_among_active():
    kinds = set()
    for seed in range(40):
        out = eda(CAPTION, **ops(p_swp=1.0, p_del=0.5), rng=rng(seed), wordnet=None).split()
        if len(out) < len(WORDS):
            kinds.add("del")
            it = iter(WORDS)
            assert all(w in it for w in out)  # pure deletion: order kept, so no swap happened as well
        else:
            kinds.add("swp")
            assert Counter(out) == Counter(WORDS)
    assert kinds == {"del", "swp"}


def test_same_seed_same_output():
    kw = ops(p_syn=0.3, p_swp=0.2, p_ins=0.2, p_del=0.2)
    a = [eda(CAPTION, **kw, rng=rng(s), wordnet=StubWordNet()) for s in range(10)]
    b = [eda(CAPTION, **kw, rng=rng(s), wordnet=StubWordNet()) for s in range(10)]
    assert a == b
    assert len(set(a)) > 3


# --------------------------------------------------------------------------------------------- TextAugment
def test_text_augment_disabled_is_identity():
    for cfg in (EDAConfig(), EDAConfig(p_eda=0.0, p_del=0.5), EDAConfig(p_eda=1.0)):
        aug = TextAugment(cfg)
        assert not aug.enabled
        r = rng(0)
        state = r.bit_generator.state
        caps = [CAPTION, "The Rain."]
        assert aug(caps, r) == caps
        assert r.bit_generator.state == state


def test_text_augment_deterministic_and_respects_p_eda():
    aug = TextAugment(EDAConfig(p_eda=0.5, p_swp=0.3, p_del=0.3))
    assert aug.enabled and aug.wordnet is None  # no synonyms needed: WordNet not loaded
    caps = [CAPTION] * 200
    a, b = aug(caps, rng(3)), aug(caps, rng(3))
    assert a == b and len(a) == 200
    untouched = sum(x == CAPTION for x in a)
    assert 60 <= untouched <= 160  # about half (plus augmentations that changed nothing)
    assert aug(caps, rng(4)) != a


@needs_wordnet
def test_text_augment_with_real_wordnet():
    aug = TextAugment(EDAConfig(p_eda=1.0, p_syn=1.0))
    assert aug.wordnet is not None
    out = aug(["car", "rain"], rng(0))
    assert out[0] in aug.wordnet.synonyms("car") and out[1] in aug.wordnet.synonyms("rain")


def test_text_augment_raises_when_wordnet_missing(no_wordnet):
    with pytest.raises(WordNetMissing) as info:
        TextAugment(EDAConfig(p_eda=1.0, p_syn=0.2))
    assert WORDNET_INSTALL_HINT in str(info.value)
    with pytest.raises(WordNetMissing):
        TextAugment(EDAConfig(p_eda=1.0, p_ins=0.2))
    # operations that need no synonyms work without WordNet
    assert TextAugment(EDAConfig(p_eda=1.0, p_swp=0.2, p_del=0.2)).enabled


def test_check_requirements_fails_early(no_wordnet):
    with pytest.raises(WordNetMissing, match="apt-get install wordnet-base"):
        check_text_augment_requirements(AugmentConfig(eda=EDAConfig(p_eda=0.5, p_syn=0.3)))
    check_text_augment_requirements(AugmentConfig(eda=EDAConfig(p_eda=0.5, p_del=0.3)))
    check_text_augment_requirements(AugmentConfig())


@needs_wordnet
def test_check_requirements_passes_with_wordnet():
    check_text_augment_requirements(AugmentConfig(eda=EDAConfig(p_eda=0.5, p_syn=0.3)))
