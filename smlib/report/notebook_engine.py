"""The papermill engine the book runner executes notebooks with: nbclient, with kernel messages
read in short polls.

Why: under load, a cell that displays ipywidgets sometimes waits for its ``execute_reply``
although the reply has arrived. The asyncio ZMQ socket misses the wake-up, and only the poll's
timeout finds the message. nbclient waits on the shell channel with the whole cell timeout, so
such a cell stalls for exactly that timeout, or forever without one. Seen here: 2 of 10 runs of
the explorer notebook on a loaded machine spent exactly the 90-s cell timeout in
``live_explorer`` and then completed normally. The upstream report is jupyter/nbclient#312
(open).

Polling in slices of :data:`POLL_SLICE_S` makes a missed wake-up cost at most one slice: each
new poll first checks whether a message is waiting. The cell timeout is kept as the total.
Registered with papermill as engine ``"smlib"``; :func:`smlib.report.book` uses it.
"""

from __future__ import annotations

import time
from queue import Empty
from typing import Any

from jupyter_core.utils import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

__all__ = ["POLL_SLICE_S", "ENGINE_NAME", "SlicedPollEngine", "sliced_get_msg"]

#: Longest single wait for a kernel message, seconds.
POLL_SLICE_S = 0.5

#: Name of the engine in papermill's registry.
ENGINE_NAME = "smlib"


def sliced_get_msg(get_msg: Any, slice_s: float = POLL_SLICE_S) -> Any:
    """Wrap a channel's async ``get_msg(timeout=None)`` so it waits in slices of ``slice_s``.

    Parameters
    ----------
    get_msg : coroutine function
        The channel's own ``get_msg``; it raises :class:`queue.Empty` when its timeout passes.
    slice_s : float
        Longest single wait, seconds.

    Returns
    -------
    coroutine function
        Same signature and contract: a message, or ``Empty`` once ``timeout`` seconds have
        passed in total (never, for ``timeout=None``).
    """

    async def get_msg_sliced(timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = slice_s if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await get_msg(timeout=min(slice_s, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    get_msg_sliced.sliced = True  # type: ignore[attr-defined]
    return get_msg_sliced


class _SlicedPollClient(PapermillNotebookClient):
    """papermill's nbclient client, with the shell and IOPub channels read in slices."""

    async def async_start_new_kernel_client(self) -> Any:
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.shell_channel, kc.iopub_channel):
            if not getattr(channel.get_msg, "sliced", False):
                channel.get_msg = sliced_get_msg(channel.get_msg)
        return kc

    # nbclient binds the synchronous wrapper to its own coroutine at class creation, and
    # ``setup_kernel`` (the path papermill takes) calls the wrapper: rebind it to ours
    start_new_kernel_client = run_sync(async_start_new_kernel_client)


class SlicedPollEngine(NBClientEngine):
    """papermill's nbclient engine with :class:`_SlicedPollClient` (see the module doc)."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: int | None = None,
        **kwargs: Any,
    ) -> Any:
        # the same arguments papermill's own engine passes on (papermill 2.x)
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        client = _SlicedPollClient(
            nb_man,
            **merge_kwargs(
                safe_kwargs,
                timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            ),
        )
        return client.execute()


papermill_engines.register(ENGINE_NAME, SlicedPollEngine)
