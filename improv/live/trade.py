"""Trading along the form, as a policy over the session core: a count-in, then the player's
N bars and the partner's N bars, chorus after chorus, with the rhythm section under both.

The partner's call is everything the player played in their turn, with the pickup they
led into it (notes begun up to `PICKUP_BEATS` before the turn, in the partner's last bar or
the count-in's); it is handed to the partner `TRADE_LEAD_S` before the partner's turn
begins, or a little more where answers come back slower (`TradePolicy.lead_s`; a note
still held counts up to then), read ahead in the player's rests before that and after
every key played or let go in the turn's last beat (a model partner drafts its answer to
the call as it stands then, and has it at once when nothing more is played; a draft made
stale by a later note gives way), and the answer is cut at the end of the partner's turn. With `--clock external` the
timeline follows the MIDI clock: Stop silences everything at once and Start begins again
with the count-in.

Threads: every method runs on the conductor.
"""

from __future__ import annotations

from typing import Any

import mido

from improv.core.listen.segment import ALL_OFF_CCS
from improv.core.theory.form import COUNT_IN, PARTNER, PLAYER, TradingForm, count_in_bars
from improv.core.theory.notes import Phrase, count_notes, counted
from improv.errors import ConfigError
from improv.live.band import HOLD_S

LEAD_S = 0.25  # from start() to the first count-in beat
TRADE_LEAD_S = 0.1  # the call goes to the partner this long before its turn (answer ready p99 is ~20 ms)...
MAX_TRADE_LEAD_S = 0.25  # ...or longer, up to this and half a beat, once answers come back slower (`lead_s`)
LEAD_MARGIN_S = 0.02
REST_BEATS = 0.5  # a rest this long in the player's turn starts a read ahead...
LAST_BEATS = 1.0  # ...and every key played or let go this close to the call's hand-over
PICKUP_BEATS = 2.25  # notes begun this close before the player's turn lead into it (beats 3-4, a little early)


class TradePolicy:
    """Trading N bars (see the module doc).

    Args:
        s: the session core (improv/live/session.py); its chart is the tune.
    """

    name = "trade"

    def __init__(self, s: Any) -> None:
        if s.chart is None:
            raise ConfigError("trading follows a tune's form: give --tune NAME or --chords \"...\"")
        self.s = s
        b = s.cfg.band
        # on a DAW's clock the DAW's bar 1 is the tune's: it counts in itself (its pre-roll or
        # metronome), and a bar of improv's own before it put the chart a bar off the DAW's arrangement
        self.form = TradingForm(s.chart, b.trade_bars if b.trade_bars > 0 else 4,
                                count_in_bars(s.cfg.timing.tempo) if s.external is None else 0)
        # a pickup lies in the partner's turn: one shorter than that (a bar of 2/4) would take the
        # end of the player's turn before it into this call again
        self.pickup = min(PICKUP_BEATS, self.form.turn_beats)
        self.band_lookahead = 1.0 if s.external is None else 0.125  # late enough to follow a DAW's tempo change
        self.player_notes: list[tuple[float, int, int, float]] = []  # (beat, pitch, velocity, dur)
        self._open: dict[int, tuple[float, int]] = {}
        self._answered: set[int] = set()
        self._last_turn: int | None = None
        self._read_at: tuple[int, float] | None = None  # (partner turn, beat of the key event) last read for
        self._last_off = -1e9  # beat of the last key let go...
        self._last_key = -1e9  # ...and of the last key played or let go
        self._last_beat: float | None = None  # the beat of the last tick in the form (None: none since a (re)start)

    @property
    def band_start(self) -> float:
        return self.form.start  # the click counts in

    def band_hold(self, beat: float) -> float | None:
        """The beat from which the band's notes wait until just before they sound: the
        partner's next downbeat, whose first bar its answer may re-harmonise (the answer
        comes `TRADE_LEAD_S` before it; the band's lookahead is a beat), until that answer
        is back (then the substitute is known, and the band hands out as ever)."""
        nxt = self.form.next_turn(beat, PARTNER)
        if nxt.index in self._answered and not self.s.exchange.awaited():
            return None
        return nxt.start

    def start(self, now: float, first_heard: float | None = None) -> None:
        """Fix the timeline: on improv's own clock the count-in starts LEAD_S from now (what
        was played before, `first_heard`, goes beside the recording: see `Session.start`)."""
        tl = self.s.timeline
        if self.s.external is None:
            tl.t0 = now + LEAD_S - self.form.start * 60.0 / self.s.tempo
        else:
            tl.offset = self.form.start

    def on_message(self, msg: mido.Message, beat: float, t: float) -> None:
        if msg.type == "note_on" and msg.velocity > 0:
            self._open[msg.note] = (beat, msg.velocity)
            self._last_key = beat
        elif msg.type in ("note_on", "note_off") and msg.note in self._open:
            b, v = self._open.pop(msg.note)
            self.player_notes.append((b, msg.note, v, beat - b))
            self._last_off = self._last_key = beat
            del self.player_notes[:-512]
        elif msg.type == "control_change" and msg.control in ALL_OFF_CCS and self._open:
            for note, (b, v) in self._open.items():  # the player's panic: every key counts as up
                self.player_notes.append((b, note, v, beat - b))
            self._open.clear()
            self._last_off = self._last_key = beat
            del self.player_notes[:-512]

    def tick(self, now: float, beat: float) -> None:
        if beat < 0:
            return
        turn = self.form.turn_at(beat)
        if turn is not None and turn.index != self._last_turn:
            self._last_turn = turn.index
            who = "your turn" if turn.owner == PLAYER else "partner's turn"
            self.s.say(f"{self.form.position(max(beat, turn.start)).label()}  {who}")  # (from its pickup: its first bar)
        nxt = self.form.next_turn(beat - self.form.turn_beats, PARTNER)
        while nxt.start <= beat:  # a partner turn already under way was too late (joined in it: a start, a DAW's
            # jump), but for a hand-over a stall of the conductor let pass: asked now, it comes in where it is
            if self._last_beat is not None and self._last_beat < nxt.start and beat < nxt.end \
                    and nxt.index not in self._answered:
                break
            self._answered.add(nxt.index)
            nxt = self.form.next_turn(nxt.end, PARTNER)
        self._last_beat = beat
        if nxt.index in self._answered:
            return
        ask = nxt.start - self.lead_s() * self.s.tempo / 60.0  # the beat the call is handed over
        if beat >= ask:
            self._answered.add(nxt.index)
            self._ask(nxt, ask, now)
            return
        if not self.s.partner.reads_ahead or beat < nxt.start - self.form.turn_beats:
            return
        # Read in a rest; in the turn's last beat, after every key played or let go (it may be the
        # last), and once in a turn laid out: the call as `_ask` will hand it over if nothing more
        # is played, drafted now
        mark = (nxt.index, self._last_key)
        last = beat >= ask - LAST_BEATS
        played = self._last_off >= nxt.start - self.form.turn_beats - self.pickup  # a note of this call
        if mark == self._read_at or not (last or (played and not self._open and beat - self._last_off >= REST_BEATS)):
            return
        self._read_at = mark
        call = self._call(nxt.start - self.form.turn_beats, nxt.start, ask)
        if call.notes or last:  # read the notes let go (a held one's length is a guess), draft the call
            so_far = self._call(nxt.start - self.form.turn_beats, nxt.start, None) if self._open else call
            self.s.exchange.read_ahead(so_far, self.s.chart, (call, nxt.start, self.form.turn_beats,
                                                              self.form.turn_beats))

    def lead_s(self) -> float:
        """How long before the partner's turn its call goes out (seconds): `TRADE_LEAD_S`, or
        on a machine where answers come back slower, long enough for an answer as slow as
        the last ones (`Exchange.expected_ready_s`, drafted ones too: the draft of the call as
        handed over may still be decoding then) to be back before the band must commit
        the partner's downbeat (`HOLD_S` before it sounds), up to `MAX_TRADE_LEAD_S` and half
        a beat. Answers of 60-100 ms on a busy machine came back after the band had played
        the written chord under the partner's downbeat, and switched to the substitute
        mid-bar; a longer lead leaves the notes the player begins in it out of the call, so
        it grows only as needed."""
        slow = self.s.exchange.expected_ready_s(self.form.turn_beats, drafted=True)
        cap = max(TRADE_LEAD_S, min(MAX_TRADE_LEAD_S, 0.5 * 60.0 / self.s.tempo))
        return min(cap, max(TRADE_LEAD_S, slow + HOLD_S + LEAD_MARGIN_S))

    def _call(self, start: float, end: float, held_to: float | None) -> Phrase:
        """The player's turn [start, end) as played so far (a key still held sounds up to beat
        `held_to`, the hand-over; None: the notes let go only), with its pickup: the call then
        starts at the pickup's first note."""
        lo = start - self.pickup
        played = [(b, p, v, d) for b, p, v, d in self.player_notes if lo <= b < end]
        if held_to is not None:
            played += [(b, p, v, max(held_to - b, 0.05)) for p, (b, v) in self._open.items() if lo <= b < end]
        first = min((b for b, _, _, _ in played if b < start), default=start)
        notes = [(p, b - first, max(d, 0.05), v) for b, p, v, d in played]
        return Phrase.of(notes, start=first, length=end - first)

    def _ask(self, turn: Any, at: float, now: float) -> None:
        """Hand over the call for partner turn `turn` at `now` (seconds); a key still held sounds
        to beat `at`, the hand-over, as in the call drafted in the turn's last beat."""
        call = self._call(turn.start - self.form.turn_beats, turn.start, at)
        self.s.last_call_bars = self.form.trade_bars
        bars = counted(self.form.trade_bars, 'bar')  # (a turn laid out is said so, not as a call of 0 notes)
        heard = f"{count_notes(len(call))} in your {bars}" if len(call) else f"you laid out your {bars}"
        self.s.ask(call, self.s.chart, turn.start, self.form.turn_beats, now, cut=self.form.turn_beats,
                   text=f"{heard}; the partner's turn {(turn.index + 1) // 2}")  # (turns alternate: 0, 1, 2 ...)

    def on_clock(self, kind: str, beat: float) -> None:
        if kind == "start":  # (from the top: every turn comes again, said again, keys held before it let go)
            self.player_notes.clear()
            self._answered.clear()
            self._open.clear()
            self._last_turn = None
        elif kind == "continue":  # perhaps from a song position before where it stopped: turns from
            # there on are to come again (they were never answered again after a jump back)
            at = beat + self.form.start
            self._answered = {i for i in self._answered if self.form.turn(i).start < at - 1e-9}
            self.player_notes = [n for n in self.player_notes if n[0] < at - 1e-9]
            self._last_turn = None
        if kind in ("start", "continue"):
            self._last_beat = None  # (a turn it starts in was not missed: it was joined)
        if kind in ("start", "continue") and self.s.band is not None:
            self.s.band.restart_at(beat + self.form.start)

    def on_panic(self) -> None:
        """Panic (conductor): in the player's turn the partner stands down for the turn that
        follows (in its own turn, that one is silenced); in the count-in no call is under
        way: what was played before it is left out of the first call, which is answered as
        ever (the partner sat out its first turn); the form and the band go on."""
        if not self.s.in_time:
            return
        beat = self.s.beat_at(self.s.clock.now())
        turn = self.form.turn_at(beat)
        if turn is None:
            self.player_notes.clear()
            self._open.clear()
        elif turn.owner == PLAYER:
            self._answered.add(self.form.next_turn(beat, PARTNER).index)

    def control(self, action: str, t: float) -> str | None:
        if action in ("end_of_call", "answer_length"):
            return f"{action.replace('_', ' ')} is not used while trading (the form sets the turns)"
        return None

    def state(self, beat: float) -> str:
        owner = self.form.position(beat).owner
        return {COUNT_IN: "count-in", PLAYER: "your turn"}.get(owner, "partner")

    def view_fields(self, beat: float) -> dict[str, Any]:
        """Whose turn it is and how many beats it has left (the stage view's fields)."""
        turn = self.form.turn_at(beat)
        if turn is None:  # (the moment before its first click, `LEAD_S`, is no beat of it)
            return {"turn": "count-in", "turn_beats_left": min(-beat, -self.form.start)}
        return {"turn": "you" if turn.owner == PLAYER else "partner", "turn_beats_left": turn.end - beat}

    @property
    def dropped(self) -> int:
        return 0
