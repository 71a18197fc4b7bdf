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
