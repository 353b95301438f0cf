"""The long-term stores the pages share: one object per store for every session of the app.

    store = choose_store()      # a Backend radio (embedded / Neo4j), the store, or None with a message
"""

from __future__ import annotations

import streamlit as st

from ntm.longterm import LongTermStoreError, LongTermStoreUnavailable, default_store_path, open_store, shown_path
from ntm.longterm.neo4j_store import neo4j_settings
from pages._shared import plain

ERROR_CHARS = 600
NEO4J_HELP = ("Without Docker: `python scripts/neo4j/manage.py start` prints the NEO4J_* settings to export "
              "before starting the app. With Docker: `docker compose up -d`. Or switch back to the "
              "embedded backend above: it needs no server.")


@st.cache_resource(show_spinner=False)
def embedded_store(path: str):
    return open_store("embedded", path=path)


@st.cache_resource(show_spinner=False)
def neo4j_store(uri: str | None, user: str | None, password: str | None):
    return open_store("neo4j", uri=uri, user=user, password=password, connect_timeout=3.0, retry_time=3.0)


def secrets() -> dict:
    try:
        return st.secrets.to_dict()
    except FileNotFoundError:           # no .streamlit/secrets.toml is normal
        return {}


def choose_store(key: str = "backend"):
    """A Backend radio and the chosen store; None (with the reason on the page) if it cannot be
    opened. The embedded store is the Long-term memory page's file under the data folder."""
    backend = st.radio("Backend", ["embedded", "neo4j"], horizontal=True, key=key,
                       format_func={"embedded": "Embedded (a local file)", "neo4j": "Neo4j server"}.get)
    if backend == "embedded":
        try:
            store = embedded_store(str(default_store_path()))
        except LongTermStoreError as exc:
            st.error(f"The embedded store cannot be opened. {plain(exc, ERROR_CHARS)}")
            return None
        st.caption(f"Stored in {plain(shown_path(store.path))} under the data folder "
                   "(set `NTM_EXPLORER_DATA` to move it).")
        return store
    cfg = neo4j_settings(secrets())
    try:
        store = neo4j_store(cfg["uri"], cfg["user"], cfg["password"])
    except LongTermStoreUnavailable as exc:
        st.error(f"Neo4j is not available. {plain(exc, ERROR_CHARS)}")
        st.info(NEO4J_HELP)
        return None
    st.caption(f"Connected to {plain(store.uri)} as {plain(store.user)}.")
    return store
