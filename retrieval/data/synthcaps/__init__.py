"""SynthCaps: the built-in procedural audio-caption benchmark.

SynthCaps is a small, fully synthetic data set for language-based audio retrieval (a text query ranks audio
recordings). It generates on a 2-core CPU in seconds, a small CNN on 32-bin log-mels learns it in a minute, and it
contains planted effects (attributes, temporal relations, an audio-silent scene that only metadata reveals, and -
since version 2.0.0 - one planted mechanism per factor the DCASE retrieval papers vary: recording conditions that
gain, Freq-MixStyle and SpecAugment counter, caption phrasings that EDA, back-translation and caption variations
teach) so that encoders, augmentations and metadata fusion can be compared.
It is written in exactly the ClothoV2 layout, so the project's Clotho loader serves it unchanged::

    <root>/
        clotho_captions_{development,validation,evaluation}.csv   file_name,caption_1,...,caption_5
        clotho_metadata_{development,validation,evaluation}.csv   file_name,keywords,sound_id,sound_link,
                                                                  start_end_samples,manufacturer,license
        development/synth_dev_00000.wav ...                        mono, 16-bit PCM, 16 kHz by default
        validation/synth_val_00000.wav ...
        evaluation/synth_eval_00000.wav ...
        variations_development.json                                2.0.0: rephrasings of the development captions
        synthcaps.json                                             manifest + ground truth (written last)

CSV files are UTF-8 with ``\n`` line endings, quoted only when needed. Metadata rows: ``keywords`` joined by
``;`` (``rain;street;water``), ``sound_id`` = (split index + 1) x 100000 + clip index, ``sound_link``
``https://freesound.org/s/<sound_id>`` (text only, not a real recording), ``start_end_samples``
``[0, <num_samples>]``, ``manufacturer`` ``synthcaps``, ``license`` ``CC0``.

Generate it with :func:`generate` (or ``python -m retrieval synth``)::

    >>> from retrieval.data.synthcaps import generate, default_root
    >>> manifest = generate(default_root("~/.cache/arh", "small", 0), "small", seed=0)  # doctest: +SKIP

Knobs
-----
``version``
    The generator version (:data:`VERSIONS`; default :data:`GENERATOR_VERSION` = ``2.0.0``). Every version keeps
    generating exactly what it generated when it was released (pinned by the tests), so results stay reproducible by
    version: ``generate(..., version="1.1.0")``, ``python -m retrieval synth --version 1.1.0`` or the config key
    ``data.synth_version: 1.1.0``. What differs between versions is one :class:`VersionSettings` each
    (:mod:`.versions`).
``size``
    ``tiny`` = 64/24/24 clips (development/validation/evaluation; smoke tests, ~4-5 s to generate),
    ``small`` = 400/200/200 (quick studies, ~30 s; 1.1.0: 400/100/100), ``default`` = 2000/500/500 (~2 min); about
    30-50 ms and 160 kB per clip on one CPU core. See :data:`SIZES` (and ``version_settings(v).sizes``).
``seed``
    Any integer >= 0. Clip *i* of split *s* (split index 0/1/2) is produced from its own
    ``np.random.default_rng([seed, s, i])``, which spawns independent streams (layout, captions, keywords, audio;
    2.0.0 also the variations of the development captions). A clip therefore never depends on generation order or
    on the other streams, the same ``(size, seed, sample_rate, version)`` always gives byte-identical files (no
    timestamps anywhere), and for one seed ``tiny`` is a prefix of ``small``, which is a prefix of ``default``.
    Different seeds give different data.
``sample_rate``
    16000 Hz by default (>= 8000); all frequencies are clamped below 0.45 x the sample rate.
``progress``
    Print one tqdm bar per split to stderr.

Generation is atomic: everything is written into a temporary sibling folder that is renamed to the target when
complete. An existing complete set with the same (size, seed, sample_rate, version) is reused as is; an absent or empty target is generated; anything else raises ``FileExistsError`` (nothing is deleted).

What is in a clip (the planted effects)
---------------------------------------
1. **Sound events.** 25 event types (:data:`EVENT_TYPES`; name (keyword): signature):
   ``tone`` (tone): steady ~1 kHz sine; ``siren`` (siren): harmonic tone sweeping slowly up and down around
   850 Hz; ``bird_chirp`` (bird): groups of fast upward chirps 2.6-5 kHz; ``hum`` (hum): 55 Hz harmonic drone;
   ``rain`` (rain): band noise around 3 kHz with many tiny clicks; ``wind`` (wind): low-passed noise with slow
   gusts; ``clock_tick`` (clock): regular tick-tock resonant clicks, ~2/s; ``knocking`` (knock): groups of 2-4
   low thumps; ``bell`` (bell): inharmonic decaying partials from 420 Hz; ``engine`` (engine): 32 Hz pulsed
   harmonic rumble; ``dog_bark`` (dog): short falling harmonic bursts ~480 Hz in groups; ``footsteps``
   (footsteps): heel thumps + 0.5-2 kHz scuffs, ~2/s; ``water_stream`` (water): dense rising bubbles
   350-1400 Hz; ``alarm_beep`` (alarm): groups of four 2.6 kHz beeps; ``whistle`` (whistle): whistled melody
   ~1.3 kHz with vibrato; ``fire_crackle`` (fire): sparse heavy-tailed clicks and pops over a rumble;
   ``typing`` (keyboard): bursts of 3-7 kHz clicks ~8/s; ``drum`` (drum): falling 160->70 Hz body + snare
   rattle, ~2/s; ``insect_buzz`` (insect): 230 Hz buzzing sawtooth with wobble; ``sweeping`` (broom):
   alternating band-noise strokes; ``car_horn`` (horn): two-tone 410/520 Hz blasts; ``phone_ring`` (phone):
   double rings of a 650/790 Hz dual tone with tremolo; ``hammering`` (hammer): metallic ringing impacts at
   1.2 kHz; ``frog_croak`` (frog): 45 Hz pulse trains of a 650 Hz resonance; ``clapping`` (clapping): rhythmic
   hand claps. Each type has several caption nouns and verbs ("a dog barks", "a hound is barking") and one
   canonical metadata keyword.
2. **Attributes** change the audio and are sometimes named in captions: ``loudness`` loud/quiet = +8/-8 dB;
   ``pitch`` high/low = x1.5/x0.67 frequency for tonal events and centre frequency for noisy ones (captions
   say "high-pitched"/"deep", or "bright"/"dull" for noise); ``rate`` fast/slow = x1.6/x0.6 repetition rate
   (repetitive or pulsed sounds only); ``distance`` near = +2 dB, far = -6 dB plus a 2nd-order low-pass at
   1.2-2.5 kHz and a 0.3-0.6 s reverberant tail (which may ring past the event's offset). Each applicable
   attribute takes each marked value with probability 0.25 (distance 0.225) and is neutral otherwise; "loud"
   and "far" never co-occur. Every event also gets +-2 dB level, +-10 % frequency and +-8 % rate jitter, so
   attributes are clearly separated but are not exact thresholds. A caption names each present attribute with
   probability 0.5 (at most two per event), as an adjective ("a distant dog") or an adverbial ("slowly",
   "in the distance").
3. **1-3 events per clip** (probabilities 0.35/0.40/0.25, distinct types) in one of these layouts:
   ``single`` (the event spans almost the whole clip); ``sequence`` (A then B, 0.1-0.5 s gap); ``overlap`` (a
   continuous "bed" event, a texture such as rain, hum or engine, spans the clip 5 dB lower and is flagged
   ``background``; a 1.5 s+ foreground event occurs during it); ``sequence3`` (A then B then C);
   ``sequence_bg`` (A then B over a background bed C); ``overlap_then`` (A and B together, then C). Captions
   express the relation correctly with respect to the ground-truth onsets ("then", "followed by", "before",
   "after" for sequences; "while", "as", "at the same time", "together" for overlaps; "in the background" is
   said only of the flagged background event). The manifest lists every pairwise relation.
4. **Scene.** Every clip has one of 8 scenes (street, kitchen, forest, office, park, beach, church, factory),
   drawn independently of the events. The background texture is a common noise with a random spectral slope
   and low-pass per clip, plus a scene-specific component 14 dB lower (traffic rumble, fridge hum, leaf rustle,
   HVAC, a murmur band, waves, dark room tone, machine hum), mixed 12-24 dB below the nominal event level, so
   the scene is hard to hear. About two thirds of the captions name the scene ("in a busy street", "outside in a
   park") and the metadata keywords contain the scene keyword with probability 0.8: this is the planted effect
   that lets metadata fusion help, because keywords carry information the audio hardly does.
5. **Keywords are informative but noisy.** Each true event keyword is kept with probability 0.7; 0/1/2
   spurious keywords (probabilities 0.5/0.35/0.15) are drawn from the event and scene vocabulary among those
   *not* true for the clip; generic tags (``field-recording``, ``ambience``, ``sound``, ``audio``; 1-2 of
   them) are added with probability 0.35; the list is shuffled.
6. **Captions.** Five per clip, 8-20 words each (enforced), all distinct, as different annotators would
   write them: many templates for each layout, openers ("you can hear", "the sound of", "there is"), noun and
   verb synonyms, attribute wordings, scene phrases at the start or the end and neutral fillers ("for a few
   seconds"), in sentence case (p=0.75) or lowercase, with a final period. Every caption mentions every
   foreground event; a background event is left out with probability 0.2 (``overlap``) or 0.3
   (``sequence_bg``) per caption, as annotators omit minor background sounds. The manifest records which
   events each caption mentions.
7. **Recording conditions (2.0.0).** Every clip is recorded by a device. Development clips: one of three fixed
   devices A, B, C (:data:`DEV_DEVICES`: smooth responses, a tilt of +3/-4/+1 dB and one or two peaking EQs of
   4-6 dB). Validation and evaluation clips (the *shifted* splits, the same target conditions for model selection
   and test, as in Clotho) are recorded with an **unseen device** each and under **other conditions**, drawn per
   clip (``device`` and ``shift`` in the manifest):

   - *level* (what gain augmentation counters): an offset of -16..-6 dB or +6..+10 dB (each range with probability
     0.5) after everything else; development clips all sit at one nominal level, and the headroom is -9 dB so that
     +10 dB does not clip;
   - *per-band compression* (what Freq-MixStyle counters): the device's automatic gain control moves the level of
     every frequency band towards its clip average, contrast factor a(f) = a0 + c1 cos(pi u) + c2 cos(2 pi u) over
     log frequency u, a0 ~ U(0.5, 0.8), c1, c2 ~ U(-0.15, 0.15), clipped to [0.2, 1] (levels smoothed over ~40 ms,
     gain limited to +-20 dB): the per-frequency standard deviation over time shrinks, the per-frequency statistics
     change - what Freq-MixStyle randomises;
   - *colouring*: a tilt ~ U(-10, 10) dB (low shelf -t/2, high shelf +t/2 around a 0.5-2 kHz pivot) and two
     peaking EQs (each with probability 0.8, 0.15-5 kHz, +-4-10 dB, Q 0.7-2), RMS-preserving;
   - *interference* (what SpecAugment's time masks counter): 0 or 1 burst of broadband noise that replaces the
     signal for 0.2-0.5 s (-6..0 dB re the clip's RMS, 10 ms cross-fades). (The generator can also add a stationary
     narrow band of noise, ``RecordingShift.p_band``; 2.0.0 does not.)

   In this order: interference, compression, colouring, level. Models trained on the development conditions lose
   accuracy on each, and the matching augmentation wins part of it back (measured: docs/results.md, "Planted effects").
8. **Caption dialects (2.0.0).** Validation and evaluation captions are written, each independently, in one of
   three dialects (probabilities 0.3 / 0.2 / 0.15; the rest, 35 %, are plain like every development caption),
   rewrites of a plain caption by whole words and phrases (:mod:`.dialects`): ``bt`` reads like Apertium's
   English -> Spanish -> English round trip ("somebody applauses noisily in a cookery", "gone on down", "some nets
   of telephone": 62 substitutions measured on 3000 captions), which ``augment.bt`` teaches; ``eda`` uses WordNet
   synonyms of development words ("toad", "locomotive", "icebox", "chirrup"), which ``augment.eda``'s synonym
   replacement draws; ``var`` uses paraphrases ("mutt", "klaxon", "carillon", "strolls past") that only the
   variations file (item 9) holds, which ``augment.variations`` swaps in. Plain captions never use the words a
   dialect introduces (the few that 1.1.0's grammar used - "somebody", "brook", "telephone", "rainfall", "hound",
   "toad" - are reserved for the dialects), so without the matching augmentation a model meets them first at test
   time. The manifest records each caption's dialect (``caption_dialects``).
9. **Caption variations file (2.0.0).** ``variations_development.json``, in the released ClothoV2_GPT list format
   (``[{"idx", "path", "caption", "variations": [5 rephrasings]}, ...]``, one record per development caption):
   the caption in the ``var`` dialect, each paraphrase applied with probability 0.8, five distinct draws where
   possible. ``augment.variations.file: synthcaps`` reads it from the data folder.
10. **Durations and levels.** Clips last U(4, 6) s, so loaders must crop/pad. Each event is set to a nominal
    RMS of -26 dBFS plus its offsets (attributes, jitter, background) with its peak capped 15 dB above that
    (very clicky sounds end up a little quieter); the mix is scaled by one fixed headroom factor (-9 dB; 1.1.0:
    -3 dB), never normalised per clip (that would erase loud/quiet and the level shift); ``np.clip`` is a last
    resort (peaks stay below full scale in practice).

Version 1.1.0 (``version="1.1.0"``) differs in: sizes ``small`` 400/100/100; no devices, dialects or variations
file; only the evaluation split is shifted - a random spectral colouring (tilt t ~ U(-8, 8) dB around a 0.5-2 kHz
pivot plus, with probability 0.7, one peaking EQ of 0.2-5 kHz, +-3-8 dB, Q 0.7-2; RMS-preserving) followed by a
level offset ~ U(-12, -3) dB (``shift`` with ``gain_db``, ``tilt_db``, ``tilt_pivot_hz``, ``peak``); headroom -3 dB.
On 1.1.0 only metadata fusion and the learning rate clearly matter (see docs/results.md).

Manifest (``synthcaps.json``)
-----------------------------
``dataset``, ``version``, ``size``, ``seed``, ``sample_rate``, ``counts``, ``shifted_splits``, ``event_types``,
``event_keywords``, ``scenes``, ``variations_file`` (2.0.0) and ``clips[split]``, a list with per clip:
``file_name``, ``sound_id``, ``num_samples``, ``duration``, ``scene``, ``background_snr_db``, ``pattern``,
``events`` (``type``, ``keyword``, ``onset``/``offset`` in s, ``attributes`` {dimension: value or null},
``level_db``, ``background``, ``pitch_jitter``, ``rate_jitter``), ``relations`` (``first``/``second`` event
indices, ``before`` or ``overlaps``), ``shift`` (null on unshifted splits; 2.0.0: ``gain_db``, ``bursts``
[{``onset``, ``duration``, ``level_db``}], ``band`` {``freq_hz``, ``width_oct``, ``level_db``} or null; 1.1.0:
``gain_db``, ``tilt_db``, ``tilt_pivot_hz``, ``peak``), ``device`` (2.0.0: ``name`` A/B/C or ``unseen``,
``tilt_db``, ``tilt_pivot_hz``, ``peaks``, ``compression`` {``a0``, ``c1``, ``c2``} or null), ``captions``,
``caption_mentions``, ``caption_dialects`` (2.0.0), ``keywords`` and the measured ``rms_dbfs``/``peak_dbfs``. It
is written last; its presence marks a complete data set. :func:`sample_clip` returns the same ground truth for one
clip without audio and :func:`render_clip` also synthesises it.

Modules
-------
:mod:`.constants` (the current version, splits, levels, probabilities), :mod:`.versions` (what differs between
versions: :class:`VersionSettings`, :data:`VERSIONS`, the development devices), :mod:`.dsp` (filters, noises,
wavetables, grain trains, biquads), :mod:`.events` (the 25 synthesisers and :data:`EVENT_TYPES`), :mod:`.scenes` (background
textures and :data:`SCENES`), :mod:`.captions` (the caption grammar), :mod:`.keywords` (noisy metadata
keywords), :mod:`.dialects` (2.0.0's caption dialects), :mod:`.sampling` (:func:`sample_clip`: layout and ground
truth), :mod:`.render` (:func:`render_clip`: the mix, devices and recording conditions), :mod:`.writer` (:func:`generate`, :func:`default_root`, :func:`load_manifest`: the
ClothoV2 files and the manifest). This package re-exports the public names.
"""

from __future__ import annotations

from .constants import (ATTRIBUTE_DB, ATTRIBUTE_DIMS, BACKGROUND_EVENT_DB, CREST_MAX_DB, DURATION_RANGE_S,
                        EVENT_LEVEL_DB, GENERATOR_VERSION, GENERIC_TAGS, HEADROOM_DB, P_GENERIC,
                        P_KEEP_EVENT_KEYWORD, P_MENTION_ATTRIBUTE, P_N_EVENTS, P_SCENE_IN_CAPTION, P_SCENE_KEYWORD,
                        P_SPURIOUS, PITCH_FACTOR, RATE_FACTOR, SCENE_COMPONENT_GAIN, SHIFT_GAIN_RANGE_DB,
                        SNR_RANGE_DB, SPLITS)
from .events import EVENT_NAMES, EVENT_TYPES, EventType, SynthFn
from .render import render_clip
from .sampling import sample_clip
from .scenes import SCENE_NAMES, SCENES, Scene
from .versions import DEV_DEVICES, VERSIONS, RecordingShift, VersionSettings, version_settings
from .writer import CAPTION_HEADER, MANIFEST_NAME, METADATA_HEADER, default_root, generate, load_manifest

#: The current version's sizes and shifted splits (other versions: ``version_settings(v).sizes`` ...).
SIZES = version_settings().sizes
SHIFTED_SPLITS = version_settings().shifted_splits

__all__ = [
    "GENERATOR_VERSION",
    "VERSIONS",
    "VersionSettings",
    "RecordingShift",
    "version_settings",
    "SIZES",
    "SPLITS",
    "EVENT_TYPES",
    "SCENES",
    "GENERIC_TAGS",
    "EventType",
    "Scene",
    "generate",
    "default_root",
    "sample_clip",
    "render_clip",
    "load_manifest",
]
