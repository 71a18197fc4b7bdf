"""Test-session hooks: the report's header says which JACK server the end-to-end tests play
over, its period, and whether it is real-time."""

from __future__ import annotations


def pytest_report_header(config) -> str:  # noqa: ANN001 - pytest's hook signature
    import os

    from improv.bench import jackprobe
    from improv.live.quiet import quiet_stderr

    server = os.environ.get("JACK_DEFAULT_SERVER", "default")
    with quiet_stderr():
        reason = jackprobe.jack_unavailable()
        if reason:
            return f"JACK: none ({reason}): the end-to-end tests skip"
        with jackprobe.Patchbay("improv-pytest") as pb:
            period, rate, rt = pb.period, pb.rate, pb.realtime
    return f"JACK: server {server!r}, {period} frames at {rate} Hz, {'real-time' if rt else 'not real-time'}"


JACK_RERUNS = 2  # runs after a failure, for a test over the JACK server (see below)


def pytest_collection_modifyitems(config, items) -> None:  # noqa: ANN001 - pytest's hook signature
    """A test over the JACK server (marked `jack`) that fails is run again, up to twice
    (pytest-rerunfailures; the report counts the reruns): the dummy-driver server on a shared
    VM now and then skips a client's period and loses its MIDI, and a lost note-off holds a
    call open. Each such test's output says what was lost (jackutil.check_transport). A
    fault of improv's own fails every run."""
    import pytest

    if not config.pluginmanager.hasplugin("rerunfailures"):
        return
    for item in items:
        if item.get_closest_marker("jack") and not item.get_closest_marker("flaky"):
            item.add_marker(pytest.mark.flaky(reruns=JACK_RERUNS))
