"""The app's shell: what every GIL Lab page shares, one small module per concern.

=============  ===========================================================================================
module         what it holds
=============  ===========================================================================================
resources      the server's settings, its cached clusters and warm pools, the warm start, the result store
sidebar        the machine every number was measured on; the banner of an interpreter without the GIL
controls       the widgets pages share: engines, rounds
panel          the ONE run panel: estimate and budget, Run / Measure again, the queue, live rounds
predict        the question above Run, the line that grades it, the class store that counts it
results        any result on screen: where it was measured, metrics, sentences, charts, downloads
=============  ===========================================================================================

Pages stay thin: widgets, a spec (often a preset from :mod:`core.presets`), one call to
:func:`pages.shell.panel.panel`, and the words that teach. No timing and no Dask in the shell either:
it calls :mod:`core.kinds.base`'s one run path.
"""

from __future__ import annotations

import streamlit as st


def _leave_legacy_multipage_mode() -> None:
    """Make sure pages run under the router, also for the first visitor of a fresh server.

    Until some session has run ``st.navigation``, Streamlit treats a ``pages/`` folder next to the main
    script as an old-style multipage app: a deep link such as ``/cpu_bound`` then runs
    ``pages/cpu_bound.py`` directly, without the router's layout, navigation and sidebar (and a URL
    that is no file name gets "Page not found"). Community Cloud restarts sleeping apps, so the first
    visitor often arrives by a shared link. Every page imports this module first; on that first import
    we switch the flag the router would switch, and rerun: the rerun goes through ``streamlit_app.py``
    to the same page (its url_path is its file name, so both modes agree on the page).
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # an internal module moved: the only cost is the old behaviour on a first visit
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_leave_legacy_multipage_mode()
