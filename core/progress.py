"""The progress callback every measurement takes: ``(message, fraction done)``, and the one that says nothing.

Engines, kinds and the overhead measurements all report progress the same way; one definition keeps
their signatures the same, and it sits below them all so none has to import another for it.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, float], None]


def quiet(message: str, fraction: float) -> None:
    """The default progress callback: say nothing.

    Parameters
    ----------
    message : str
        What is happening (ignored).
    fraction : float
        How much is done, 0 to 1 (ignored).
    """
