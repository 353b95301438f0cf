"""Fixtures for the long-term store tests: a real Neo4j server, and a store of each backend.

The Neo4j server: if NEO4J_URI is set, that server is used (NEO4J_USER / NEO4J_PASSWORD);
otherwise a throwaway Neo4j 5 Community server is built with Maven and started on a free
127.0.0.1 port for the whole session (scripts/neo4j/manage.py), and stopped at the end.
If no server can be had, the Neo4j tests are skipped with the reason, except in CI
(CI=true), where that is an error: CI must never pass without having tested Neo4j.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass

import pytest

from ntm.io import ROOT

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def load_manager():
    """scripts/neo4j/manage.py as a module (it is a script, not a package)."""
    path = ROOT / "scripts" / "neo4j" / "manage.py"
    spec = importlib.util.spec_from_file_location("neo4j_manage", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("neo4j_manage", module)
    spec.loader.exec_module(module)
    return module


@dataclass
class Neo4jTarget:
    """Where the Neo4j tests connect; ``server`` is None for an outside server (NEO4J_URI)."""

    uri: str
    user: str
    password: str
    server: object | None = None

    def open(self, **kw):
        from ntm.longterm.neo4j_store import Neo4jStore
        return Neo4jStore(**{"uri": self.uri, "user": self.user, "password": self.password, **kw})


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"CI=true and no Neo4j server for the Neo4j tests: {reason}", pytrace=False)
    pytest.skip(f"no Neo4j server: {reason} (set NEO4J_URI, or install a JDK 17 and Maven)")


@pytest.fixture(scope="session")
def neo4j_manage():
    """The throwaway-server manager module (scripts/neo4j/manage.py)."""
    return load_manager()


@pytest.fixture(scope="session")
def neo4j_target(tmp_path_factory) -> Neo4jTarget:
    if os.environ.get("NEO4J_URI"):
        target = Neo4jTarget(os.environ["NEO4J_URI"], os.environ.get("NEO4J_USER", "neo4j"),
                             os.environ.get("NEO4J_PASSWORD", ""))
        from ntm.longterm import LongTermStoreUnavailable
        problem = None
        try:
            target.open().close()
        except LongTermStoreUnavailable as exc:
            problem = f"NEO4J_URI={target.uri} is set but unusable: {exc}"
        if problem:
            _unavailable(problem)
        yield target
        return
    manage = load_manager()
    server = manage.Neo4jServer(home=tmp_path_factory.mktemp("neo4j-home"), exit_with_parent=True)
    problem = None
    try:
        server.start(timeout=240)
    except Exception as exc:  # noqa: BLE001 - any reason at all is reported (a failure in CI)
        server.stop(kill=True)
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        _unavailable(problem)
    try:
        yield Neo4jTarget(server.uri, server.user, server.password, server)
    finally:
        server.stop()


@pytest.fixture
def neo4j_store(neo4j_target):
    """An empty Neo4j store (the shared server's database cleared before and after)."""
    store = neo4j_target.open(retry_time=3.0)
    store.clear()
    try:
        yield store
    finally:
        try:
            store.clear()
        finally:
            store.close()


@pytest.fixture(params=["sqlite", "sqlite-binary", "embedded", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def store(request, tmp_path):
    """An empty store of each backend: the same behavioural tests run against all of them
    ("sqlite-binary": the SQLite store searching with its binary index from the first vector on)."""
    if request.param.startswith("sqlite"):
        from ntm.longterm.sqlite_store import SQLiteStore
        s = SQLiteStore(tmp_path / "graph.sqlite3", exact_limit=1 if request.param == "sqlite-binary" else 20_000)
        yield s
        s.close()
    elif request.param == "embedded":
        from ntm.longterm.embedded import EmbeddedStore
        s = EmbeddedStore(tmp_path / "graph.json")
        yield s
        s.close()
    else:
        yield request.getfixturevalue("neo4j_store")
