"""New HiGHS instances that never write HiGHS's banner to the process's standard output.

HiGHS prints "Running HiGHS <version> ... Copyright ..." on the first call into
an instance made while ``output_flag`` is on, which is the default. HiGHS's own
advice is to set ``output_flag`` off before any other call, but ``highspy.Highs()``
makes one itself: its constructor registers highspy's callback handler
(``setCallback``), so the banner is out before the caller can set an option.
highspy offers no constructor options, ``silent()`` comes too late and HiGHS reads
no environment variable. A server must not write to stdout from a library (it may
be a protocol stream or a structured log), so the first construction in a process
runs with file descriptor 1 pointed at a temporary file, and what HiGHS wrote is
passed to this module's logger at DEBUG level instead.

HiGHS prints the banner once per process: once it has been written, later
instances stay quiet, so only the first construction is wrapped (the plugin's
tests check that a second solve prints nothing either). Another thread writing to
file descriptor 1 during that one constructor call would have its bytes logged
here rather than printed; the window is a single constructor call, once.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import tempfile
import threading

import highspy

log = logging.getLogger(__name__)

_lock = threading.Lock()
_banner_written = False


def new_highs() -> highspy.Highs:
    """A new ``highspy.Highs`` with ``output_flag`` off; nothing reaches stdout."""
    global _banner_written
    if not _banner_written:
        with _lock:
            if not _banner_written:
                highs, printed = _with_stdout_captured()
                _banner_written = True
                if printed.strip():
                    log.debug("HiGHS started: %s", printed.strip())
                return highs
    return _quiet(highspy.Highs())  # type: ignore[no-untyped-call]


def _quiet(highs: highspy.Highs) -> highspy.Highs:
    highs.setOptionValue("output_flag", False)
    return highs


def _with_stdout_captured() -> tuple[highspy.Highs, str]:
    """Construct the first instance with fd 1 redirected; answer it and what was printed."""
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all: nothing to protect
        return _quiet(highspy.Highs()), ""  # type: ignore[no-untyped-call]
    with tempfile.TemporaryFile() as sink:
        try:
            # Python's own buffered output belongs on the real stdout, not in the capture.
            with contextlib.suppress(OSError, ValueError):  # absent or closed
                if sys.stdout is not None:
                    sys.stdout.flush()
            os.dup2(sink.fileno(), 1)
            try:
                highs = _quiet(highspy.Highs())  # type: ignore[no-untyped-call]
            finally:
                # HiGHS flushes after logging today; flushing C stdio here keeps
                # the banner in the capture even if it stops doing so.
                _flush_c_stdout()
                os.dup2(saved, 1)
        finally:
            os.close(saved)
        sink.seek(0)
        printed = sink.read().decode("utf-8", errors="replace")
    return highs, printed


def _flush_c_stdout() -> None:
    try:
        libc = ctypes.CDLL(None)
    except (OSError, TypeError):  # no process-wide C library handle (Windows)
        return
    libc.fflush(None)
