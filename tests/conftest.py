"""Test-wide settings: under CI, hypothesis draws its examples deterministically (same examples every run).

A shell starts a background command (``bash .ci/run &``) with SIGINT ignored, and children inherit
that: the interruption tests (Ctrl-C mid-sweep, signals held while a chunk is written) would then
see no interrupt at all. The suite restores Python's own SIGINT handling for itself and the
processes it starts, however it was launched.
"""

import os
import signal

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
