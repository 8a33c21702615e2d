"""The WordNet database reader: synonyms from the real database (if installed) and from a tiny fake one."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from retrieval.augment import wordnet as wn_mod
from retrieval.augment.wordnet import (
    WORDNET_INSTALL_HINT,
    WordNet,
    WordNetMissing,
    find_wordnet_dir,
    load_wordnet,
)

pytestmark = pytest.mark.usefixtures("fresh_wordnet_cache")

REAL_DIR = find_wordnet_dir()
needs_wordnet = pytest.mark.skipif(
    REAL_DIR is None,
    reason=f"WordNet database not found ($WORDNET_DIR, /usr/share/wordnet); install with `{WORDNET_INSTALL_HINT}`")

HEADER = "  1 This software and database is being provided to you, the LICENSEE, by  \n" \
         "  2 Princeton University under the following license.  \n"


def write_fake_wordnet(root: Path) -> Path:
    """A two-synset noun database and a one-synset adjective database with correct byte offsets."""
    root.mkdir(parents=True, exist_ok=True)

    def write_data(name: str, synsets: list[str]) -> list[int]:
        text, offsets = HEADER, []
        for body in synsets:
            offsets.append(len(text.encode()))
            text += f"{len(text.encode()):08d} {body}\n"
        (root / name).write_text(text)
        return offsets

    n1, n2 = write_data("data.noun", [
        "06 n 03 Car 0 auto 0 motor_car 0 000 | a motor vehicle  ",
        "06 n 02 car 0 railcar 1 000 | a wheeled vehicle on rails  ",
    ])
    (a1,) = write_data("data.adj", ["00 s 02 speedy(a) 0 fast 0 000 | quick  "])
    (root / "index.noun").write_text(HEADER + f"car n 2 1 @ 2 1 {n1:08d} {n2:08d}  \n"
                                              f"auto n 1 1 @ 1 0 {n1:08d}  \n")
    (root / "index.adj").write_text(HEADER + f"speedy a 1 0 1 0 {a1:08d}  \n")
    return root


# --------------------------------------------------------------------------------------------- real database
@pytest.fixture(scope="module")
def real():
    if REAL_DIR is None:
        pytest.skip("WordNet database not installed")
    return WordNet(REAL_DIR)


@needs_wordnet
def test_car_has_automobile(real):
    syns = real.synonyms("car")
    assert "automobile" in syns
    assert "car" not in syns


@needs_wordnet
def test_rain_has_rainfall_or_pelting(real):
    syns = real.synonyms("rain")
    assert "rainfall" in syns or "pelting" in syns


@needs_wordnet
def test_unknown_word_has_no_synonyms(real):
    assert real.synonyms("qwxzzyq") == []
    assert real.synonyms("") == []


@needs_wordnet
def test_synonyms_are_clean_unique_and_deterministic(real):
    syns = real.synonyms("car")
    assert len(syns) == len(set(syns))
    assert all(s == s.lower() and "_" not in s for s in syns)
    assert any(" " in s for s in syns)  # multi-word lemmas, e.g. "railway car"
    assert real.synonyms("car") == syns == WordNet(REAL_DIR).synonyms("car")
    assert real.synonyms("Car") == syns


@needs_wordnet
def test_simple_morphology(real):
    cars = real.synonyms("cars")
    assert "automobile" in cars and "car" not in cars and "cars" not in cars
    assert "rain down" in real.synonyms("rained")
    assert real.base_forms("barking", "verb") == ("bark",)


@needs_wordnet
def test_adjective_markers_are_stripped(real):
    # data.adj writes "outback(a)" for the satellite synset {outback, remote}
    assert "outback" in real.synonyms("remote")
    assert not any("(" in s for s in real.synonyms("remote"))


@needs_wordnet
def test_load_wordnet_is_cached(real):
    assert load_wordnet() is load_wordnet()
    assert load_wordnet(str(REAL_DIR)) is load_wordnet()  # same resolved directory, same instance


# --------------------------------------------------------------------------------------------- fake database
def test_fake_database_parsing(tmp_path):
    root = write_fake_wordnet(tmp_path / "wn")
    wn = WordNet(root)
    assert wn.synonyms("car") == ["auto", "motor car", "railcar"]  # sense order, lowercase, '_' -> ' '
    assert wn.synonyms("auto") == ["car", "motor car"]
    assert wn.synonyms("speedy") == ["fast"]  # adjective marker "(a)" stripped
    assert wn.synonyms("cars") == ["auto", "motor car", "railcar"]  # plural -> lemma
    assert wn.synonyms("bus") == []


def test_wordnet_pickles_after_use(tmp_path):
    wn = WordNet(write_fake_wordnet(tmp_path / "wn"))
    assert wn.synonyms("car")
    clone = pickle.loads(pickle.dumps(wn))
    assert clone.synonyms("auto") == wn.synonyms("auto")


def test_find_wordnet_dir_order(tmp_path, monkeypatch):
    a = write_fake_wordnet(tmp_path / "a")
    b = write_fake_wordnet(tmp_path / "b")
    monkeypatch.setattr(wn_mod, "DEFAULT_WORDNET_DIRS", (str(tmp_path / "nowhere"),))
    monkeypatch.setenv("WORDNET_DIR", str(b))
    assert find_wordnet_dir(str(a)) == a  # explicit first
    assert find_wordnet_dir() == b  # then $WORDNET_DIR
    monkeypatch.delenv("WORDNET_DIR")
    assert find_wordnet_dir() is None
    monkeypatch.setattr(wn_mod, "DEFAULT_WORDNET_DIRS", (str(a),))
    assert find_wordnet_dir() == a  # then the default path


def test_find_wordnet_dir_empty_dir_is_none(no_wordnet):
    assert find_wordnet_dir() is None
    assert find_wordnet_dir(str(no_wordnet)) is None


def test_wordnet_missing_message(no_wordnet):
    with pytest.raises(WordNetMissing) as info:
        load_wordnet()
    msg = str(info.value)
    assert WORDNET_INSTALL_HINT in msg
    assert str(no_wordnet) in msg  # names where it looked
    with pytest.raises(WordNetMissing, match="apt-get install wordnet-base"):
        WordNet(no_wordnet)
