"""Ids: their form, and request ids that stay unique across forked workers."""

from __future__ import annotations

import os
import re

import pytest

from wattbridge.ids import new_id, new_request_id


def test_ids_have_their_prefix_and_24_base62_digits() -> None:
    assert re.fullmatch(r"dev_[0-9A-Za-z]{24}", new_id("dev"))
    assert re.fullmatch(r"req_[0-9A-Za-z]{24}", new_request_id())
    with pytest.raises(ValueError, match="unknown id prefix 'nope'"):
        new_id("nope")


def test_request_ids_do_not_repeat() -> None:
    ids = {new_request_id() for _ in range(20_000)}
    assert len(ids) == 20_000
    # Every digit is drawn: no position is stuck on a few values.
    assert all(len({i[4 + n] for i in ids}) == 62 for n in range(24))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_draws_other_request_ids_than_its_parent() -> None:
    # Servers that fork workers must not give two requests the same id.
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write_end, new_request_id().encode())
        os._exit(0)
    os.close(write_end)
    child = os.read(read_end, 64).decode()
    os.waitpid(pid, 0)
    os.close(read_end)
    assert re.fullmatch(r"req_[0-9A-Za-z]{24}", child)
    assert child != new_request_id()
