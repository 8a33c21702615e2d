"""SynthCaps caption grammar: attribute wordings, templates per layout, fillers, and the draw of a clip's five
distinct 8-20-word captions with the events each mentions."""

from __future__ import annotations

from typing import Any

import numpy as np

from .constants import ATTRIBUTE_DIMS, P_MENTION_ATTRIBUTE, P_SCENE_IN_CAPTION
from .dialects import RESERVED, rewrite
from .events import _EVENT_BY_NAME, EventType
from .scenes import _scene

_ADJ = {
    "loud": ("loud",), "quiet": ("quiet", "faint", "soft"),
    "high": ("high-pitched", "shrill"), "low": ("low-pitched", "deep"),
    "near": ("nearby",), "far": ("distant", "faraway", "far-off"),
    "fast": (), "slow": (),
}
_ADJ_NOISY = {"high": ("bright", "high-pitched"), "low": ("dull", "low-pitched")}
_ADV = {
    "loud": ("loudly", "very loudly"), "quiet": ("quietly", "softly", "faintly"),
    "high": ("at a high pitch", "in a high tone"), "low": ("at a low pitch", "in a deep tone"),
    "fast": ("rapidly", "quickly", "at a fast pace", "in quick succession"),
    "slow": ("slowly", "at a slow pace", "at a leisurely pace"),
    "near": ("close by", "nearby", "up close", "close to the microphone"),
    "far": ("in the distance", "far away", "from far away", "from a distance"),
}
_ADV_NOISY = {"high": ("with a bright tone", "with a hissy sound"), "low": ("with a dull tone", "with a low rumble")}
_FILLERS = (("in this recording", "in this short clip", "during the recording", "on this recording",
             "throughout the clip"),
            ("for a few seconds", "for some time", "for several seconds"))

# Templates: {A} finite clause, {An} nominal ("a dog barking"), {Ap} progressive ("a dog is barking").
# The boolean says whether a scene phrase may be put in front.
_T1 = (("{A}", True), ("{Ap}", True), ("the sound of {An}", False), ("{An} can be heard", True),
       ("you can hear {An}", True), ("there is {An}", True), ("a recording of {An}", False),
       ("in this recording, {A}", False), ("{An} is audible", True), ("we hear {An}", True),
       ("this clip captures {An}", False), ("{An} is heard clearly", True))
_T_SEQ = (("{A} and then {B}", True), ("{A}, then {B}", True), ("{A}, followed by {Bn}", True),
          ("{A} before {B}", True), ("after {A}, {B}", False), ("{B} after {A}", True),
          ("first {A}, and then {B}", False), ("{An} is followed by {Bn}", True),
          ("you can hear {An} and then {Bn}", True), ("{A}, and afterwards {B}", True),
          ("{Ap}, and later {B}", True), ("{An} comes first, then {Bn}", True))
_T_OVL = (("{A} while {B}", True), ("{A} as {B}", True), ("while {B}, {A}", False),
          ("{An} and {Bn} can be heard at the same time", True), ("{A} and {B} at the same time", True),
          ("{An} and {Bn} are heard together", True), ("{A}, and meanwhile {B}", True),
          ("{Ap} while {Bp}", True))
# {G}: foreground event, {K}: the flagged background event
_T_BG = (("{G} with {Kn} in the background", True), ("{G} while {K} in the background", True),
         ("{Kn} in the background while {G}", False), ("in the background {K} while {G}", False),
         ("{G}, accompanied by {Kn}", True), ("{G} as {K} in the background", True),
         ("{Gp} over {Kn} in the background", True))
_T_SEQ3 = (("{A}, then {B}, and finally {C}", True), ("first {A}, then {B}, and then {C}", False),
           ("{A}, followed by {Bn} and then {Cn}", True), ("{A} before {B}, and then {C}", True),
           ("you can hear {An}, then {Bn}, then {Cn}", True), ("{A}, after which {B}, and lastly {C}", True),
           ("{A}, then {B}, then {C}", True))
_T_OVL_THEN = (("{A} while {B}, and then {C}", True), ("{A} as {B}, then {C}", True),
               ("{An} and {Bn} are heard together, followed by {Cn}", True),
               ("{A} and {B} at the same time, before {C}", True), ("first {A} while {B}, then {C}", False),
               ("while {B}, {A}, and then {C}", False))
_BG_SUFFIX = (" while {K} in the background", " with {Kn} in the background", ", all while {K}",
              " as {K} in the background")
_BG_PREFIX = ("while {K} in the background, ", "as {K}, ", "with {Kn} in the background, ")


def _with_adj(noun: str, adj: str) -> str:
    words = noun.split()
    if words[0] in ("a", "an"):
        art = "an" if adj[0] in "aeiou" else "a"
        return " ".join([art, adj] + words[1:])
    if words[0] == "the":
        return " ".join(["the", adj] + words[1:])
    return f"{adj} {noun}"


def _plain(phrases: tuple, reserve: bool) -> tuple:
    """The phrases (strings or tuples of strings) without a :data:`RESERVED` word when ``reserve`` (2.0.0)."""
    if not reserve:
        return phrases
    return tuple(p for p in phrases if not RESERVED.intersection(" ".join(p if isinstance(p, tuple) else (p,)).split()))


def _event_forms(rng: np.random.Generator, ev: EventType, attrs: dict[str, str | None],
                 terse: bool = False, reserve: bool = False) -> dict[str, str]:
    """Finite / nominal / progressive clauses for one event mention, naming some of its attributes.

    ``terse`` (fallback for over-long captions) uses the shortest noun and verb and names no attribute.
    ``reserve`` (2.0.0) leaves out the nouns and verbs that hold a word reserved for a dialect.
    """
    nouns, verbs = _plain(ev.nouns, reserve), _plain(ev.verbs, reserve)
    if terse:
        noun = min(nouns, key=lambda w: len(w.split()))
        v3, ving = min(verbs, key=lambda v: len(v[0].split()))
    else:
        noun = nouns[int(rng.integers(len(nouns)))]
        v3, ving = verbs[int(rng.integers(len(verbs)))]
    values = [v for d in ATTRIBUTE_DIMS if (v := attrs.get(d)) is not None]
    mentioned = [v for v in values if not terse and rng.random() < P_MENTION_ATTRIBUTE]
    if len(mentioned) > 2:
        mentioned = [mentioned[i] for i in sorted(rng.choice(len(mentioned), 2, replace=False))]
    advs = []
    used_adj = False
    for v in mentioned:
        adj = _ADJ_NOISY.get(v, ()) if (ev.noisy and v in _ADJ_NOISY) else _ADJ[v]
        if ev.adjectives and adj and not used_adj and rng.random() < 0.55:
            noun = _with_adj(noun, adj[int(rng.integers(len(adj)))])
            used_adj = True
        else:
            adv = _ADV_NOISY[v] if (ev.noisy and v in _ADV_NOISY) else _ADV[v]
            advs.append(adv[int(rng.integers(len(adv)))])
    tail = (" " + " and ".join(advs)) if advs else ""
    return {"": f"{noun} {v3}{tail}", "n": f"{noun} {ving}{tail}", "p": f"{noun} is {ving}{tail}"}


def _fill(template: str, slots: dict[str, dict[str, str]]) -> str:
    out = template
    for key, forms in slots.items():
        for suffix in ("n", "p", ""):
            out = out.replace("{" + key + suffix + "}", forms[suffix])
    return out


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _one_caption(rng: np.random.Generator, clip: dict[str, Any], terse: bool = False,
                 reserve: bool = False) -> tuple[str, list[int]]:
    """One candidate caption (not yet length-checked) and the indices of the events it mentions."""
    events = clip["events"]
    types = [_EVENT_BY_NAME[e["type"]] for e in events]
    forms = [_event_forms(rng, t, e["attributes"], terse, reserve) for t, e in zip(types, events)]
    pattern = clip["pattern"]
    bg = [i for i, e in enumerate(events) if e["background"]]
    mentioned = list(range(len(events)))
    if pattern == "single":
        body, front = _pick(rng, _T1)
        body = _fill(body, {"A": forms[0]})
    elif pattern == "sequence":
        body, front = _pick(rng, _T_SEQ)
        body = _fill(body, {"A": forms[0], "B": forms[1]})
    elif pattern == "overlap":
        k = bg[0]
        g = 1 - k
        if rng.random() < 0.2:  # the background event is left out
            mentioned = [g]
            body, front = _pick(rng, _T1)
            body = _fill(body, {"A": forms[g]})
        elif rng.random() < 0.5:
            body, front = _pick(rng, _T_BG)
            body = _fill(body, {"G": forms[g], "K": forms[k]})
        else:
            order = [0, 1] if rng.random() < 0.5 else [1, 0]
            body, front = _pick(rng, _T_OVL)
            body = _fill(body, {"A": forms[order[0]], "B": forms[order[1]]})
    elif pattern == "sequence3":
        body, front = _pick(rng, _T_SEQ3)
        body = _fill(body, {"A": forms[0], "B": forms[1], "C": forms[2]})
    elif pattern == "sequence_bg":
        k = bg[0]
        a, b = [i for i in range(3) if i != k]
        body, front = _pick(rng, _T_SEQ)
        body = _fill(body, {"A": forms[a], "B": forms[b]})
        u = rng.random()
        if u < 0.3:
            mentioned = [a, b]
        elif u < 0.55 and front:
            body = _fill(_pick(rng, _BG_PREFIX), {"K": forms[k]}) + body
            front = False
        else:
            body = body + _fill(_pick(rng, _BG_SUFFIX), {"K": forms[k]})
    elif pattern == "overlap_then":
        order = [0, 1] if rng.random() < 0.5 else [1, 0]
        body, front = _pick(rng, _T_OVL_THEN)
        body = _fill(body, {"A": forms[order[0]], "B": forms[order[1]], "C": forms[2]})
    else:  # pragma: no cover
        raise AssertionError(pattern)

    if rng.random() < P_SCENE_IN_CAPTION and not (terse and len(body.split()) > 12):
        phrase = _pick(rng, _scene(clip["scene"]).phrases)
        if front and rng.random() < 0.4:
            body = f"{phrase}, {body}"
        else:
            body = f"{body} {phrase}"
    groups = [g for g in _FILLERS if not (g is _FILLERS[0] and ("record" in body or "clip" in body))]
    while len(body.split()) < 8 and groups:  # at most one filler of each kind; together they always suffice
        body = f"{body} {_pick(rng, groups.pop(int(rng.integers(len(groups)))))}"
    text = body.strip() + "."
    if rng.random() < 0.75:
        text = text[0].upper() + text[1:]
    return text, sorted(mentioned)


def _captions(rng: np.random.Generator, clip: dict[str, Any], *, reserve: bool = False,
              dialects: tuple[tuple[str, float], ...] = ()) -> tuple[list[str], list[list[int]], list[str]]:
    """Five distinct 8-20-word captions, the events each mentions and each one's dialect (``plain`` or one of
    ``dialects``, drawn per caption with the given probabilities; see :mod:`.dialects`). ``reserve`` (2.0.0): plain
    wording never uses a word reserved for a dialect. Without ``reserve`` and ``dialects`` (1.1.0) the draws are
    exactly those of 1.1.0."""
    caps: list[str] = []
    mentions: list[list[int]] = []
    kinds: list[str] = []
    names = [d for d, _ in dialects]
    probs = np.array([p for _, p in dialects] + [1.0 - sum(p for _, p in dialects)])
    tries = 0
    while len(caps) < 5:
        tries += 1
        if tries > 400:  # pragma: no cover - the terse fallback always fits
            raise RuntimeError(f"could not build five captions of 8-20 words for {clip['events']}")
        # after many over-long drafts (three events with long phrases), fall back to terse wording
        text, men = _one_caption(rng, clip, terse=tries > 40 * (len(caps) + 1), reserve=reserve)
        kind = "plain"
        if dialects:
            k = int(rng.choice(len(probs), p=probs))
            if k < len(names):
                kind = names[k]
                text = rewrite(text, kind, rng)
        if not 8 <= len(text.split()) <= 20:
            continue
        if text.lower() in (c.lower() for c in caps) and tries < 300:
            continue
        caps.append(text)
        mentions.append(men)
        kinds.append(kind)
    return caps, mentions, kinds

