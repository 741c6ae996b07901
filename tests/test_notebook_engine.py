"""The book runner's papermill engine: kernel messages read in short polls."""

from __future__ import annotations

import asyncio
import time
from queue import Empty

import pytest

from smlib.report.notebook_engine import ENGINE_NAME, SlicedPollEngine, sliced_get_msg


class _MissedWakeup:
    """A channel whose ``get_msg`` notices a message only when its own timeout ends (the
    missed wake-up of an edge-triggered socket), as seen with the explorer notebook."""

    def __init__(self, arrives_after_s: float | None) -> None:
        self.t0 = time.monotonic()
        self.arrives = arrives_after_s
        self.timeouts: list[float | None] = []

    async def get_msg(self, timeout: float | None = None) -> dict:
        self.timeouts.append(timeout)
        if timeout is None:
            raise AssertionError("the wrapper must never wait without a bound")
        await asyncio.sleep(timeout)
        if self.arrives is not None and time.monotonic() - self.t0 >= self.arrives:
            return {"msg": "execute_reply"}
        raise Empty


def test_message_found_within_one_slice_not_the_whole_timeout():
    channel = _MissedWakeup(arrives_after_s=0.05)
    get = sliced_get_msg(channel.get_msg, slice_s=0.02)
    msg = asyncio.run(get(timeout=30.0))
    assert msg == {"msg": "execute_reply"}
    assert all(t is not None and t <= 0.02 for t in channel.timeouts)
    assert sum(channel.timeouts) < 1.0  # the unwrapped call would have waited 30 s


def test_no_timeout_means_wait_in_slices_until_the_message():
    channel = _MissedWakeup(arrives_after_s=0.05)
    msg = asyncio.run(sliced_get_msg(channel.get_msg, slice_s=0.02)(timeout=None))
    assert msg["msg"] == "execute_reply" and len(channel.timeouts) >= 2


def test_timeout_still_raises_empty_after_the_total():
    channel = _MissedWakeup(arrives_after_s=None)
    with pytest.raises(Empty):
        asyncio.run(sliced_get_msg(channel.get_msg, slice_s=0.02)(timeout=0.1))
    assert sum(channel.timeouts) == pytest.approx(0.1, abs=0.03)


def test_engine_is_registered_with_papermill():
    from papermill.engines import papermill_engines

    assert papermill_engines.get_engine(ENGINE_NAME) is SlicedPollEngine


def test_papermill_path_reads_the_kernel_in_slices():
    """``setup_kernel`` (papermill's path) must start the client through the override."""
    import nbformat
    from papermill.engines import NotebookExecutionManager

    from smlib.report.notebook_engine import _SlicedPollClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    client = _SlicedPollClient(NotebookExecutionManager(nb), kernel_name="python3")
    with client.setup_kernel():
        assert client.kc.shell_channel.get_msg.sliced
        assert client.kc.iopub_channel.get_msg.sliced
        reply = client.wait_for_reply(client.kc.kernel_info())
    assert reply["content"]["status"] == "ok"
