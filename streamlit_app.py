"""GIL Lab — the router. ``streamlit run streamlit_app.py``.

Process workers (Dask's ``processes`` scheduler, ``LocalCluster(processes=True)``) start with spawn
and re-import the main module; everything below runs only under the ``__main__`` guard, which
Streamlit's script runner satisfies and a spawned worker's import does not.
"""

import streamlit as st

INSTRUCTOR_PATH = "instructor"


def _instructor_on() -> bool:
    """Whether this server has an instructor key (the key itself is not kept here, only whether there is one).

    Read from core, not through ``pages.shell``: importing the shell before ``st.navigation`` would rerun a
    fresh server's first session (see ``pages/shell/__init__.py``).
    """
    from core.serve.settings import load_settings

    try:
        secrets = st.secrets.to_dict()
    except Exception:  # no secrets.toml, or one that does not parse (the shell's settings() says so)
        secrets = {}
    return bool(load_settings(secrets).instructor_key)


def _asked_for_instructor() -> bool:
    """Whether the URL asks for the Instructor page: ``/instructor`` or ``?instructor``."""
    try:
        url = st.context.url or ""
    except Exception:  # no browser context (a bare script run)
        url = ""
    return url.rstrip("/").endswith("/" + INSTRUCTOR_PATH) or INSTRUCTOR_PATH in st.query_params


def main() -> None:
    st.set_page_config(page_title="GIL Lab", page_icon=":material/science:", layout="wide")
    pages = {
        "Learn": [
            # The default page is served at "/" (Streamlit ignores a url_path on it).
            st.Page("pages/start.py", title="Threads vs processes", icon=":material/home:", default=True),
        ],
        "Experiments": [
            st.Page("pages/cpu_bound.py", title="CPU-bound (fib)", icon=":material/memory:", url_path="cpu_bound"),
            st.Page("pages/io_bound.py", title="I/O-bound (sleep)", icon=":material/hourglass_empty:",
                    url_path="io_bound"),
            st.Page("pages/numpy_gil.py", title="NumPy and the GIL", icon=":material/grid_on:", url_path="numpy_gil"),
            st.Page("pages/local_cluster.py", title="LocalCluster", icon=":material/hub:", url_path="local_cluster"),
            st.Page("pages/beyond_dask.py", title="Beyond Dask", icon=":material/extension:", url_path="beyond_dask"),
            st.Page("pages/beyond_gil.py", title="Beyond the GIL", icon=":material/lock_open:", url_path="beyond_gil"),
            st.Page("pages/your_function.py", title="Your function", icon=":material/functions:",
                    url_path="your_function"),
        ],
        "Evidence": [
            st.Page("pages/gil_trace.py", title="GIL trace", icon=":material/timeline:", url_path="gil_trace"),
            st.Page("pages/scaling.py", title="Scaling & data transfer", icon=":material/trending_up:",
                    url_path="scaling"),
            st.Page("pages/overhead.py", title="Overhead anatomy", icon=":material/speed:", url_path="overhead"),
        ],
        "Wrap-up": [
            st.Page("pages/takeaways.py", title="Takeaways", icon=":material/checklist:", url_path="takeaways"),
            st.Page("pages/interpreter.py", title="Interpreter & BLAS", icon=":material/terminal:",
                    url_path="interpreter"),
        ],
    }
    instructor = _instructor_on()
    asked = not instructor and _asked_for_instructor()  # before st.navigation, which may rewrite the URL
    if instructor:  # the class view: only where an instructor key is set (README, For instructors)
        pages["Wrap-up"].append(st.Page("pages/instructor.py", title="Instructor", icon=":material/school:",
                                        url_path=INSTRUCTOR_PATH))
    nav = st.navigation(pages, expanded=True)  # every page in view: thirteen would collapse behind "View more"
    if asked:
        # Not a silent "page not found": say what the page is and why it is off.
        st.warning("The Instructor page (the class view) is off on this server: it has no instructor key"
                   " (GIL_LAB_INSTRUCTOR_KEY or instructor_key in its secrets).", icon=":material/lock:")
    from pages.shell.resources import warm_start
    from pages.shell.sidebar import interpreter_banner, sidebar

    warm_start()  # once per server: the start page's process pool, so that a first click measures
    sidebar()
    interpreter_banner()
    nav.run()


if __name__ == "__main__":
    main()
