"""Chord symbols: parse common and WJazzD spellings, format canonically, give pitch classes.

`parse_chord("C-7") == parse_chord("Cm7") == parse_chord("Cmin7")`, and
`parse_chord(str(chord)) == chord` for every chord (round trip).

WJazzD writes tensions with the accidental *after* the number (`C79b` = C7(b9),
`C7911#` = C7(9,#11)); common notation puts it before (`C7b9`, `C9#11`). A few strings
read differently in the two (`C79b13` is C7(b9,13) in WJazzD, C7(9,b13) in common use),
so `parse_chord` takes a dialect: `"auto"` (common first, WJazzD if that fails) for
people, `"wjazzd"` for the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from improv.errors import ChordError

ROOT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# quality -> (chord-tone intervals, tensions the chord admits without being told).
QUALITIES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "": ((0, 4, 7), (2, 9)),
    "m": ((0, 3, 7), (2, 5, 9)),
    "7": ((0, 4, 7, 10), (2, 9)),
    "maj7": ((0, 4, 7, 11), (2, 6, 9)),
    "m7": ((0, 3, 7, 10), (2, 5, 9)),
    "m7b5": ((0, 3, 6, 10), (2, 5, 8)),
    "dim": ((0, 3, 6), (2, 5, 8, 11)),
    "dim7": ((0, 3, 6, 9), (2, 5, 8, 11)),
    "+": ((0, 4, 8), (2, 6)),
    "+7": ((0, 4, 8, 10), (2, 6)),
    "+maj7": ((0, 4, 8, 11), (2, 6)),
    "6": ((0, 4, 7, 9), (2, 6)),
    "m6": ((0, 3, 7, 9), (2, 5)),
    "mmaj7": ((0, 3, 7, 11), (2, 5, 9)),
    "sus4": ((0, 5, 7), (2, 9, 10)),
    "7sus4": ((0, 5, 7, 10), (2, 9)),
    "7alt": ((0, 4, 10), (1, 3, 6, 8)),
    "7b5": ((0, 4, 6, 10), (2, 9)),
    "sus2": ((0, 2, 7), (5, 9)),
    "5": ((0, 7), (2, 3, 4, 5, 9, 10)),  # a power chord states neither third nor seventh
}

# tension name -> interval above the root (semitones, folded into the octave).
TENSIONS = {"b9": 1, "9": 2, "#9": 3, "11": 5, "#11": 6, "b13": 8, "13": 9}
_TENSION_ORDER = ("b9", "9", "#9", "11", "#11", "b13", "13")

# Quality spellings, longest first so that e.g. "maj7" wins over "maj". Each maps to a
# quality and the tensions the spelling implies (C9 = C7 with a 9th).
_QUALITY_SPELLINGS: list[tuple[str, str, tuple[str, ...]]] = []


def _spell(quality: str, tensions: tuple[str, ...], *spellings: str) -> None:
    for s in spellings:
        _QUALITY_SPELLINGS.append((s, quality, tensions))


_spell("m7b5", (), "m7b5", "-7b5", "min7b5", "mi7b5", "ø7", "ø", "h7", "m7(b5)", "-7(b5)", "m7-5", "-7-5", "mi7-5",
       "MI7b5", "MI7(b5)")
_spell("mmaj7", (), "mmaj7", "m(maj7)", "-maj7", "-j7", "mM7", "minmaj7", "-Δ7", "mΔ7", "m^7", "-^7",
       "mMaj7", "m(Maj7)", "-(maj7)", "minMaj7", "mΔ", "-Δ", "m(Δ7)",
       "mima7", "mi(ma7)", "MIMA7", "MI(MA7)", "-MA7", "-(MA7)", "m/maj7", "-/maj7", "mi/ma7", "MI/MA7")
_spell("mmaj7", ("9",), "mMaj9", "mmaj9", "m(maj9)", "-maj9", "-Δ9", "mΔ9", "minMaj9", "-(maj9)", "mM9")
_spell("maj7", ("9", "13"), "maj13", "Δ13", "j13", "M13", "ma13", "MA13")
_spell("maj7", ("9",), "maj9", "Δ9", "j9", "M9", "ma9", "MA9")
_spell("maj7", (), "maj7", "Maj7", "ma7", "M7", "Δ7", "Δ", "j7", "^7", "^", "MA7")
_spell("m7", ("9", "11", "13"), "m13", "-13", "min13", "mi13", "MI13")
_spell("m7", ("9", "11"), "m11", "-11", "min11", "mi11", "MI11")
_spell("m7", ("9",), "m9", "-9", "min9", "mi9", "MI9")
_spell("m7", (), "m7", "-7", "min7", "mi7", "MI7")
_spell("m6", ("9",), "m69", "-69", "m6/9", "-6/9")
_spell("m6", (), "m6", "-6", "min6", "mi6", "MI6")
_spell("m", (), "m", "-", "min", "mi", "MI")
_spell("dim7", (), "dim7", "o7", "°7")
_spell("dim", (), "dim", "o", "°")
_spell("+maj7", (), "+maj7", "+j7", "augmaj7", "maj7#5", "+Δ7", "maj7+5", "maj7(#5)", "Δ7#5", "Δ#5")
_spell("+7", (), "+7", "aug7", "7#5", "7+5", "7(#5)")
_spell("+", (), "+", "aug", "#5")
_spell("7alt", (), "7alt", "alt", "7(alt)")
_spell("7b5", (), "7b5", "7-5", "7(b5)")
_spell("7sus4", ("9", "13"), "13sus4", "13sus")
_spell("7sus4", ("9",), "9sus4", "9sus", "sus79")
_spell("7sus4", (), "7sus4", "7sus", "sus7", "sus47")
_spell("sus4", (), "sus4", "sus")
_spell("sus2", (), "sus2")
_spell("5", (), "5")
_spell("6", ("9",), "69", "6/9", "6add9")
_spell("6", (), "6")
_spell("7", ("9", "13"), "13")
_spell("7", ("9", "11"), "11")
_spell("7", ("9",), "9")
_spell("7", (), "7", "dom7")
_spell("", ("9",), "add9", "add2", "2")
_spell("", (), "", "maj", "M", "major", "ma", "MA")
_QUALITY_SPELLINGS.sort(key=lambda t: -len(t[0]))

# How each quality is written canonically (and read back: these are all spellings above).
# The minor-major seventh as lead sheets write it, CmMaj7: its key "mmaj7" run together with
# the root was shown as "Cmmaj7" on the status line, the markers and the explanations.
_CANONICAL = {
    "": "", "m": "m", "7": "7", "maj7": "maj7", "m7": "m7", "m7b5": "m7b5", "dim": "dim",
    "dim7": "dim7", "+": "+", "+7": "+7", "+maj7": "+maj7", "6": "6", "m6": "m6",
    "mmaj7": "mMaj7", "sus4": "sus4", "7sus4": "7sus4", "7alt": "7alt", "7b5": "7b5", "sus2": "sus2",
    "5": "5",
}
# Qualities with no 7th or 6th: a tension written on one is added to the triad, and shown so,
# C(add9), Cm(add9): "C(9)" and "Cm(9)" read as C9 and Cm9, chords with a seventh.
_TRIADS = frozenset(("", "m", "+", "dim", "sus4", "sus2", "5"))

# The major-seventh triangle as keyboards type it: macOS's Option-J gives U+2206 (increment),
# some fonts U+25B3; the spellings above use the Greek capital delta. The half-diminished
# circle typed as a capital (Option-Shift-O, Ø) is the small one they use.
_TRIANGLES = str.maketrans({"\u2206": "\u0394", "\u25b3": "\u0394", "\u00d8": "\u00f8"})

_TENSION_PREFIX = re.compile(r"(b|#)?(13|11|9)")  # common: accidental before
_TENSION_SUFFIX = re.compile(r"(13|11|9)(b|#)?")  # WJazzD: accidental after


@dataclass(frozen=True, slots=True)
class Chord:
    """A chord: root pitch class, a quality from `QUALITIES`, written tensions, bass.

    Attributes:
        root: pitch class 0-11.
        quality: a key of `QUALITIES`.
        tensions: written tensions, a sorted tuple of keys of `TENSIONS`.
        bass: pitch class of a slash bass, or None.
        spelled: the root's name as the chart wrote it ("Gb" where `ROOT_NAMES` says
            "F#"), shown by `str`; "" = the usual name. Not part of equality: Gbmaj7 and
            F#maj7 are one chord.
        bass_spelled: the slash bass's name as the chart wrote it (the "C#" of A/C#), as
            `spelled` is the root's.
    """

    root: int
    quality: str = ""
    tensions: tuple[str, ...] = ()
    bass: int | None = None
    spelled: str = field(default="", compare=False)
    bass_spelled: str = field(default="", compare=False)

    def __str__(self) -> str:
        s = (self.spelled or ROOT_NAMES[self.root]) + _CANONICAL[self.quality]
        if self.quality in ("6", "m6") and self.tensions == ("9",):
            s += "/9"  # C6/9, as charts write it (not C6(9))
        elif self.tensions:
            s += ("(add" if self.quality in _TRIADS else "(") + ",".join(self.tensions) + ")"
        if self.bass is not None:
            s += "/" + (self.bass_spelled or ROOT_NAMES[self.bass])
        return s

    @property
    def symbol(self) -> str:
        return str(self)

    def chord_tones(self) -> frozenset[int]:
        """Pitch classes of root, 3rd (or sus), 5th and 7th (or 6th)."""
        return frozenset((self.root + i) % 12 for i in QUALITIES[self.quality][0])

    def tension_tones(self) -> frozenset[int]:
        """Pitch classes of the 9ths, 11ths and 13ths this chord admits (written or implied)."""
        ivs = set(QUALITIES[self.quality][1])
        if {"b9", "#9"} & set(self.tensions):  # an altered 9th rules out the natural one
            ivs.discard(2)
        if "b13" in self.tensions:
            ivs.discard(9)
        ivs |= {TENSIONS[t] for t in self.tensions}
        return frozenset((self.root + i) % 12 for i in ivs) - self.chord_tones()

    def scale(self) -> frozenset[int]:
        """Chord tones and tensions together: the notes that sound 'inside'."""
        return self.chord_tones() | self.tension_tones()

    def guide_tones(self) -> tuple[int, ...]:
        """Pitch classes of the 3rd (or 4th) and the 7th (or 6th), where the chord has them."""
        ivs = QUALITIES[self.quality][0]
        out = [i for i in ivs if i in (3, 4, 5)] + [i for i in ivs if i in (9, 10, 11)]
        return tuple((self.root + i) % 12 for i in out)

    def transpose(self, semitones: int) -> "Chord":
        bass = None if self.bass is None else (self.bass + semitones) % 12
        return Chord((self.root + semitones) % 12, self.quality, self.tensions, bass)


def _parse_root(text: str, i: int = 0) -> tuple[int, int]:
    """Read a note name at text[i:]: returns (pitch class, index after it)."""
    if i >= len(text) or text[i].upper() not in _LETTER_PC:
        raise ValueError("expected a root note A-G")
    pc = _LETTER_PC[text[i].upper()]
    i += 1
    while i < len(text) and text[i] in "b#♭♯":
        pc += -1 if text[i] in "b♭" else 1
        i += 1
    return pc % 12, i


def _parse_tensions(text: str, style: str) -> tuple[str, ...] | None:
    """Read a run of tensions ('b9#11', '911#', '(b9, #11)'); None if it does not read."""
    text = text.replace("(", "").replace(")", "").replace(",", "").replace(" ", "")
    text = text.replace("add", "")
    if style == "prefix":  # C7+9, C7-9: + and - as sharp and flat (after the quality, never a minor sign)
        text = text.replace("+", "#").replace("-", "b")
    out: list[str] = []
    i = 0
    pattern = _TENSION_PREFIX if style == "prefix" else _TENSION_SUFFIX
    while i < len(text):
        m = pattern.match(text, i)
        if not m:
            return None
        acc, num = (m.group(1), m.group(2)) if style == "prefix" else (m.group(2), m.group(1))
        name = (acc or "") + num
        if name not in TENSIONS:
            return None
        out.append(name)
        i = m.end()
    return tuple(out)


@lru_cache(maxsize=4096)
def parse_chord(symbol: str, dialect: str = "auto") -> Chord | None:
    """Read a chord symbol. `NC` (no chord) gives None.

    Args:
        symbol: e.g. `Dm7`, `D-7`, `G7(b9,#11)`, `G7911#`, `Cmaj7/E`, `Bbø`.
        dialect: `"auto"` (common notation, then WJazzD) or `"wjazzd"` (accidentals
            after tension numbers).

    Raises:
        ChordError: the symbol cannot be read; the message names it.
    """
    text = symbol.strip().translate(_TRIANGLES)
    if text.upper() in ("NC", "N.C.", "N.C"):
        return None
    try:
        root, i = _parse_root(text)
        spelled = text[0].upper() + text[1:i].replace("♭", "b").replace("♯", "#")
        spelled = "" if spelled == ROOT_NAMES[root] else spelled
    except ValueError:
        raise ChordError(f"cannot read chord symbol {symbol!r}: it must start with a root A-G") from None
    accidentals = set(text[1:i].replace("♭", "b").replace("♯", "#"))
    if len(accidentals) > 1:  # (Bb#7 was read as B7, and shown back as "Bb#7")
        raise ChordError(f"cannot read chord symbol {symbol!r}: its root has both a flat and a sharp "
                         f"({text[:i]!r}); write one, e.g. {ROOT_NAMES[root]}")
    body, bass, bass_spelled = text[i:], None, ""
    depth = 0
    for c in body:  # tensions in one pair of parentheses at most: G7(b9,#11); C7( was read as C7
        depth += (c == "(") - (c == ")")
        if depth not in (0, 1):
            break
    if depth:
        raise ChordError(f"cannot read chord symbol {symbol!r}: its parentheses do not pair up "
                         "(tensions go in one pair: G7(b9,#11))")
    if "/" in body:
        body, _, bass_text = body.rpartition("/")
        if body.endswith(("6", "m6", "-6")) and bass_text == "9":  # 6/9 is not a slash chord
            body, bass_text = body + "/9", ""
        elif body in ("m", "-", "mi", "MI") and bass_text in ("maj7", "ma7", "MA7"):  # nor is Cm/maj7
            body, bass_text = body + "/" + bass_text, ""
        if bass_text:
            try:
                bass, j = _parse_root(bass_text)
            except ValueError:
                bass, j = None, -1
            if j != len(bass_text):
                raise ChordError(f"cannot read chord symbol {symbol!r}: bad bass note {bass_text!r} after '/'")
            bass_spelled = bass_text[0].upper() + bass_text[1:].replace("♭", "b").replace("♯", "#")
            bass_spelled = "" if bass_spelled == ROOT_NAMES[bass] else bass_spelled
        elif "/" not in body and dialect != "wjazzd":  # ("C/" was read as C: a half-typed slash chord)
            raise ChordError(f"cannot read chord symbol {symbol!r}: no bass note after '/' (C/E is C over E; "
                             f"a '/' on its own holds the chord a beat more: 'C / G7 /')")
    styles = ("suffix", "prefix") if dialect == "wjazzd" else ("prefix", "suffix")
    for spelling, quality, implied in _QUALITY_SPELLINGS:
        if not body.startswith(spelling):
            continue
        rest = body[len(spelling):]
        for style in styles:
            written = _parse_tensions(rest, style)
            if written is None:
                continue
            tens = set(implied) | set(written)
            if {"b9", "#9"} & set(written):  # C13b9: the altered ninth, not the 9 that 13 implies
                tens.discard("9")
            if quality == "7alt":
                tens = set()
            return Chord(root, quality, tuple(t for t in _TENSION_ORDER if t in tens), bass, spelled, bass_spelled)
    altered = _altered_dominant(body)
    if altered is not None:
        quality, tens = altered
        return Chord(root, quality, tuple(t for t in _TENSION_ORDER if t in tens), bass, spelled, bass_spelled)
    raise ChordError(
        f"cannot read chord symbol {symbol!r}: expected a root and a kind such as "
        "maj7, m7, 7, m7b5, dim7, 6, sus4, 7alt, with tensions like b9 or #11"
    )


_FIFTH = re.compile(r"[b#+-]5(?!\d)")  # b5, -5, #5, +5 (not the 5 of a longer number)
_DOMINANT_BASE = {"7": (), "9": ("9",), "11": ("9", "11"), "13": ("9", "13")}


def _altered_dominant(body: str) -> tuple[str, set[str]] | None:
    """A dominant whose fifth is altered or that is suspended among its tensions, in any
    order ('7#9#5', '7(b9#5)', '9+', '7+', '13b5', '7b9sus'): (quality, tensions), or None."""
    m = re.fullmatch(r"(13|11|9|7)(.*)", body)
    if not m:
        return None
    base, rest = m.groups()
    rest = rest.replace("(", "").replace(")", "").replace(",", "").replace(" ", "")
    fifths = {"#5" if f[0] in "#+" else "b5" for f in _FIFTH.findall(rest)}
    rest = _FIFTH.sub("", rest)
    if rest.endswith("+"):  # C7+, C9+: augmented
        fifths.add("#5")
        rest = rest[:-1]
    sus = re.search(r"sus4?$", rest)
    if sus:
        rest = rest[:sus.start()]
    if not (fifths or sus) or (fifths and sus):
        return None
    written = _parse_tensions(rest, "prefix")
    if written is None:
        return None
    tens = set(_DOMINANT_BASE[base]) | set(written)
    if {"b9", "#9"} & set(written):
        tens.discard("9")
    if sus:
        return "7sus4", tens
    if fifths == {"#5", "b5"}:
        return "7alt", set()
    return ("+7" if fifths == {"#5"} else "7b5"), tens


def chord_root_name(pc: int) -> str:
    return ROOT_NAMES[pc % 12]
