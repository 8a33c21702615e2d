"""SynthCaps 2.0.0 caption dialects: phrasings the development captions never use.

Validation and evaluation captions are written, each with a probability (``VersionSettings.dialects``), in one of
three dialects; the rest are plain, like every development caption. A dialect rewrites a plain caption by
substituting whole words and phrases (longest match first, no overlaps, case-insensitive; articles are then fixed).
Each dialect is the kind of text one augmentation produces, so that augmentation, and no other, teaches a model
trained on the plain development captions what the dialect's words mean:

``bt``
    What Apertium's English -> Spanish -> English round trip (``augment.bt``, Apertium 3.8 with apertium-eng-spa
    0.8.1) does to SynthCaps captions, deterministically: ``someone`` -> ``somebody``, ``loudly`` -> ``noisily``,
    ``kitchen`` -> ``cookery``, ``rings`` -> ``nets``, ``phone`` -> ``telephone``, ``claps`` -> ``applauses``,
    ``followed by`` -> ``gone on down`` ... Each substitution of :data:`BT` was measured by back-translating
    3000 SynthCaps 1.1.0 captions (the share of occurrences it happened to is in the comment); Apertium applies it to
    the development captions whenever back-translation is on.
``eda``
    Terse captions with WordNet synonyms, what ``augment.eda`` produces: words are left out (probability
    :data:`P_DELETE` each, at least :data:`MIN_WORDS` kept; EDA's random deletion), and ``rain`` -> ``rainfall``,
    ``frog`` -> ``toad``, ``engine`` -> ``locomotive``, ``chirps`` -> ``chirrup`` ... (EDA's synonym replacement and
    insertion draw from exactly these lists, see :mod:`retrieval.augment.wordnet`). Every replacement of
    :data:`EDA` is one of the word's WordNet 3.0 synonyms (checked by the tests when WordNet is installed), chosen
    among the senses that fit.
``var``
    Paraphrases that only the caption variations file of the development split uses (``augment.variations``):
    ``dog`` -> ``mutt``, ``siren`` -> ``klaxon``, ``bell`` -> ``carillon`` ... (:data:`VAR`).

Plain 2.0.0 captions never contain a dialect's new words (:data:`RESERVED` removes the few that 1.1.0's grammar
used, e.g. ``brook``, ``toad``, ``somebody``, from the plain vocabulary), so without the matching augmentation a
model meets them first at test time.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

# --------------------------------------------------------------------------------------------- back-translation
#: plain phrase -> Apertium round trip (share of the phrase's occurrences changed this way in 3000 captions)
BT: dict[str, str] = {
    "someone": "somebody",  # 56 %
    "loudly": "noisily",  # 79 %
    "at a slow pace": "in a slow step",  # pace -> step 79 %, at -> in
    "at a fast pace": "in a fast step",
    "at a leisurely pace": "in a leisurely step",
    "recording": "register",  # 81 %
    "home kitchen": "cookery of house",  # 82 %
    "kitchen": "cookery",  # 70 %
    "nearby": "near",  # 52 %
    "close by": "near by",
    "from far away": "of far was",  # from -> of 78 %, away -> was / went 66 %
    "far away": "far was",
    "high-pitched": "tall-pitched",  # 39 %
    "at a high pitch": "in a tall tone",  # 70 %
    "in a high tone": "in a tall tone",
    "at a low pitch": "in a low tone",
    "in quick succession": "in fast succession",  # quick -> fast 85 %
    "followed by": "gone on down",  # 57 %
    "large": "big",  # 62 %
    "loud": "strong",  # 42 %
    "quiet": "calm",  # 53 %
    "steady": "firm",  # 65 %
    "steadily": "firmly",  # 68 %
    "in the background": "deep down",  # 33 %
    "rapidly": "quickly",  # 61 %
    "up close": "on top of near",  # 71 %
    "by the sea": "by the mar",  # 75 %
    "building": "edifice",  # 50 %
    "in the woods": "in the forest",  # 88 %
    "the ground": "the earth",  # 74 %
    "open-plan office": "oficinadeplan opened",  # 90 %
    "wood fire": "wooden fire",  # 65 %
    "fireplace": "chimney",  # 60 %
    "builder": "constructor",  # 51 %
    "rings": "nets",  # 25 % (and "some nets of ...": 15 %)
    "child": "boy",  # 26 %
    "plays": "touches",  # 26 %
    "knocks on": "strikes in",  # 29 % (+ "somebody strikes in" 24 of 27)
    "knocking on": "striking in",  # 42 %
    "next to a road": "afterwards to a road",  # 60 %
    "claps": "applauses",  # 54 % with "someone"
    "their hands": "his hands",  # 41 %
    "walks across": "walks through",  # 79 %
    "walking across": "walking through",  # 53 %
    "idles": "go them",  # 41 %
    "creek": "brook",  # 32 %
    "stream": "current",  # 29 %
    "types on": "writes in",  # 20 of 20 with "someone"
    "throughout the clip": "during the clip",  # 83 %
    "hand bell": "hand-held bell",  # 38 %
    "goes off": "goes was",
    "bright": "brilliant",  # 72 %
    "hits": "paste",  # 37 %
    "after which": "after what",  # 56 %
    "motor": "engine",  # 30 %
    "lastly": "finally",  # 44 %
    "phone": "telephone",  # 13 % alone, most "rings" sentences become "some nets of telephone"
    "rumbles": "noises",
    "taps on": "touches in",  # 12 of 13 with "someone"
    "blows": "swipes",  # "the swipes of wind"
    "runs": "careers",  # "some careers of engine"
}

# --------------------------------------------------------------------------------------------- EDA (WordNet)
#: plain word -> WordNet 3.0 synonyms of it (a subset of ``WordNet.synonyms(word)``), one drawn per occurrence
EDA: dict[str, tuple[str, ...]] = {
    "rain": ("rainfall",),
    "dog": ("hound",),
    "puppy": ("pup",),
    "frog": ("toad", "anuran"),
    "songbird": ("songster",),
    "sparrow": ("dunnock",),
    "chirps": ("cheep", "chirrup", "peep"),
    "chirping": ("cheep", "chirrup"),
    "engine": ("locomotive",),
    "refrigerator": ("icebox",),
    "beeps": ("bleep", "toot"),
    "claps": ("applaud", "acclaim"),
    "clapping": ("applause",),
    "hammer": ("mallet",),
    "typing": ("typewriting",),
    "types": ("typewrite",),
    "drum": ("tympan", "membranophone"),
    "horn": ("hooter",),
    "car": ("automobile", "motorcar"),
    "truck": ("motortruck",),
    "door": ("doorway",),
    "crackles": ("crepitate",),
    "crackling": ("crepitation",),
    "stream": ("watercourse",),
    "breeze": ("zephyr",),
    "alarm": ("alarum",),
    "ticks": ("ticktock", "click"),
    "ticking": ("ticktock", "click"),
    "steps": ("tread",),
    "floor": ("flooring",),
    "bell": ("chime", "gong"),
    "fire": ("flame",),
    "faint": ("feeble", "dim"),
    "distant": ("remote",),
    "shrill": ("strident",),
    "deep": ("bass",),
    "softly": ("gently", "lightly"),
    "quickly": ("speedily",),
    "forest": ("woodland",),
    "factory": ("manufactory",),
    "city": ("metropolis",),
    "seashore": ("seacoast",),
}

# --------------------------------------------------------------------------------------------- variations
#: plain word or phrase -> paraphrases used by the variations file and the ``var`` dialect only
VAR: dict[str, tuple[str, ...]] = {
    "dog": ("mutt", "canine"), "puppy": ("young mutt",), "guard dog": ("watchdog",),
    "barks": ("bays", "growls"), "barking": ("baying", "growling"),
    "bird": ("finch", "robin"), "sparrow": ("robin",), "songbird": ("warbler",), "small bird": ("wren",),
    "tweets": ("twitters",), "tweeting": ("twittering",), "sings": ("warbles",), "singing": ("warbling",),
    "siren": ("klaxon",), "wails": ("whoops",), "wailing": ("whooping",),
    "tone": ("whine",), "drones on": ("persists",), "droning on": ("persisting",),
    "transformer": ("generator",), "refrigerator": ("fridge",), "machine": ("appliance",),
    "electrical device": ("power unit",), "hums": ("whirs",), "humming": ("whirring",),
    "rain": ("drizzle",), "rain shower": ("downpour",), "patters": ("spatters",), "pattering": ("spattering",),
    "wind": ("gale",), "breeze": ("draught",), "gusty wind": ("squall",), "howls": ("moans",), "howling": ("moaning",),
    "clock": ("timepiece", "metronome"), "ticks": ("tocks",), "ticking": ("tocking",),
    "door": ("entrance",), "wooden door": ("timber gate",), "knocks": ("bangs",), "knocking": ("banging",),
    "bell": ("carillon", "handbell"), "church bell": ("carillon",), "tolls": ("peals",), "tolling": ("pealing",),
    "engine": ("diesel", "tractor"), "car engine": ("diesel",), "truck engine": ("lorry",),
    "footsteps": ("strides",), "walks by": ("strolls past",), "walking by": ("strolling past",),
    "takes heavy steps": ("stomps about",), "taking heavy steps": ("stomping about",),
    "walks across a hard floor": ("strolls over the tiles",), "walking across a hard floor": ("strolling over the tiles",),
    "water": ("a river",), "creek": ("rivulet",), "bubbles": ("gurgles",), "bubbling": ("gurgling",),
    "trickles": ("dribbles",), "trickling": ("dribbling",),
    "alarm": ("buzzer", "beeper"), "smoke alarm": ("detector",), "timer": ("stopwatch",),
    "whistles": ("pipes",), "whistling": ("piping",), "tune": ("ditty",), "melody": ("jingle",),
    "fire": ("bonfire", "blaze"), "campfire": ("bonfire",), "crackles": ("sputters",), "crackling": ("sputtering",),
    "keyboard": ("keypad",), "computer keyboard": ("laptop keypad",), "typist": ("clerk",),
    "drum": ("tom-tom", "bongo"), "drummer": ("percussionist",), "beats": ("thumps",), "beating": ("thumping",),
    "fly": ("hornet",), "bee": ("bumblebee",), "mosquito": ("gnat",), "insect": ("wasp",),
    "buzzes": ("zizzes",), "buzzing": ("zizzing",),
    "broom": ("besom",), "sweeps": ("scrubs",), "sweeping": ("scrubbing",), "janitor": ("caretaker",),
    "car horn": ("honker",), "horn": ("honker",), "honks": ("hoots",), "honking": ("hooting",),
    "phone": ("cellphone", "landline"), "mobile phone": ("smartphone",), "trills": ("jingles",),
    "trilling": ("jingling",),
    "hammer": ("sledgehammer",), "nail": ("spike",), "carpenter": ("joiner",),
    "frog": ("amphibian",), "bullfrog": ("amphibian",), "croaks": ("ribbits",), "croaking": ("ribbiting",),
    "claps": ("applauds",), "clapping": ("applauding",), "audience member": ("spectator",),
}

#: words 1.1.0's plain grammar used that 2.0.0 reserves for a dialect
RESERVED: frozenset[str] = frozenset({"somebody", "brook", "telephone", "rainfall", "hound", "toad"})

DIALECTS: dict[str, dict] = {"bt": BT, "eda": EDA, "var": VAR}


@lru_cache(maxsize=None)
def _pattern(dialect: str) -> re.Pattern[str]:
    keys = sorted(DIALECTS[dialect], key=lambda k: (-len(k), k))
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(k) for k in keys) + r")(?![\w-])", re.IGNORECASE)


_ARTICLE = re.compile(r"\b(a|an|A|An)\s+([\w-]+)")


def _fix_articles(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        art, word = m.group(1), m.group(2)
        want = "an" if word[0].lower() in "aeiou" else "a"
        if art.lower() == want:
            return m.group(0)
        return (want.capitalize() if art[0].isupper() else want) + " " + word
    return _ARTICLE.sub(repl, text)


#: ``eda`` dialect: each word is also left out with this probability (EDA's random deletion), while more than
#: :data:`MIN_WORDS` words remain
P_DELETE = 0.0
MIN_WORDS = 8


def _delete(text: str, rng: np.random.Generator, p: float, keep: int) -> str:
    """Leave out words with probability ``p`` each (in order, while more than ``keep`` remain); the first word's
    capital and the final period stay."""
    words = text.split()
    if len(words) <= keep:
        return text
    capital, period = words[0][0].isupper(), words[-1].endswith(".")
    out = []
    budget = len(words) - keep
    for w in words:
        if budget > 0 and rng.random() < p:
            budget -= 1
            continue
        out.append(w.rstrip("."))
    text = " ".join(out)
    text = (text[0].upper() if capital else text[0].lower()) + text[1:]
    return _fix_articles(text + ("." if period else ""))


def rewrite(text: str, dialect: str, rng: np.random.Generator | None = None, p: float = 1.0,
            p_delete: float | None = None) -> str:
    """``text`` in ``dialect``: every match of the dialect's table is replaced (with probability ``p`` each, drawn
    from ``rng``; ``bt`` always replaces and needs no ``rng``), a choice among several replacements drawn from
    ``rng``. A replacement keeps a capital first letter. ``eda`` then leaves out words (``p_delete``, default
    :data:`P_DELETE`, keeping at least :data:`MIN_WORDS`)."""
    table = DIALECTS[dialect]

    def repl(m: re.Match[str]) -> str:
        src = m.group(0)
        new = table[src.lower()]
        if isinstance(new, tuple):
            if rng.random() >= p:
                return src
            new = new[int(rng.integers(len(new)))] if len(new) > 1 else new[0]
        return new[0].upper() + new[1:] if src[0].isupper() else new

    text = _fix_articles(_pattern(dialect).sub(repl, text))
    if dialect == "eda":
        text = _delete(text, rng, P_DELETE if p_delete is None else p_delete, MIN_WORDS)
    return text


def new_words(dialect: str) -> set[str]:
    """The words a dialect's replacements contain (lowercase)."""
    out: set[str] = set()
    for new in DIALECTS[dialect].values():
        for phrase in (new if isinstance(new, tuple) else (new,)):
            out.update(re.findall(r"[a-z][a-z'-]*", phrase.lower()))
    return out
