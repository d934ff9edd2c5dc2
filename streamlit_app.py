"""GIL Lab — the router. ``streamlit run streamlit_app.py``.

Process workers (Dask's ``processes`` scheduler, ``LocalCluster(processes=True)``) start with spawn
and re-import the main module; everything below runs only under the ``__main__`` guard, which
Streamlit's script runner satisfies and a spawned worker's import does not.
"""

import streamlit as st


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
    nav = st.navigation(pages, expanded=True)  # every page in view: thirteen would collapse behind "View more"
    from pages.shell.resources import warm_start
    from pages.shell.sidebar import interpreter_banner, sidebar

    warm_start()  # once per server: the start page's process pool, so that a first click measures
    sidebar()
    interpreter_banner()
    nav.run()


if __name__ == "__main__":
    main()
