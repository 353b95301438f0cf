"""The JSON graph export: write a graph as JSON, and read one back, checked, one item at a time.

The export (``graph_to_json``) is ``{"format", "version", "dimension", "nodes", "edges",
"training_logs"}``, like the fork's ``export_entailment_graph_json`` (nodes carry ``id``,
``text``, ``embedding``; edges ``source``, ``target``), with our extra fields beside them
(``language``, ``run``, an edge's ``type`` and ``confidence``). Files from the fork import as
they are: an edge without ``type`` is an ``ENTAILS`` edge, numeric ids become strings.

Reading (``graph_from_json``) takes a dict, JSON text, bytes, a binary file or a path. Text,
bytes and files are read in chunks and each node, edge and log is parsed and checked on its
own with the standard ``json`` decoder, so a large file is never held as one tree of Python
objects beside its text: memory is about the file's own bytes (if the caller has them) plus
the finished records. Whatever the input (nesting deep enough to exhaust the parser, numbers
with thousands of digits, lone surrogates, wrong types), the only error is InvalidGraphData
saying what is wrong and where.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from .errors import DimensionMismatch, InvalidGraphData
from .records import (
    MAX_INT, Graph, Proposition, Relation, TrainingLog, check_text, dedupe_last, shown,
)

EXPORT_FORMAT = "ntm-explorer/longterm-graph"
EXPORT_VERSION = 1
LISTS = ("nodes", "edges", "training_logs")
CHUNK_CHARS = 1 << 20                # text read per step while streaming a file
# The app imports files up to this size: an export of 20,000 propositions with 384-dim
# embeddings and 40,000 relations is about 210 MB (export_json writes ~10.1 kB per proposition
# and ~140 B per relation). Larger graphs import from Python: store.import_json(path).
MAX_IMPORT_MB = 256
WHAT_WE_READ = ("expected a JSON object with a 'nodes' list and an 'edges' list "
                "(the format export_json / export_entailment_graph_json write)")


# ----------------------------------------------------------------------------- writing


def proposition_to_json(p: Proposition, include_embedding: bool = True) -> dict[str, Any]:
    d: dict[str, Any] = {"id": p.id, "text": p.text, "language": p.language, "run": p.run}
    if include_embedding:
        d["embedding"] = None if p.embedding is None else [float(x) for x in p.embedding]
    return d


def relation_to_json(r: Relation) -> dict[str, Any]:
    return {"source": r.source, "target": r.target, "type": r.type,
            "confidence": r.confidence, "run": r.run}


def graph_to_json(graph: Graph, dimension: int | None, include_embeddings: bool = True) -> dict[str, Any]:
    """A graph as the export dict; nodes/edges keep the fork's field names."""
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "dimension": dimension,
        "nodes": [proposition_to_json(p, include_embeddings) for p in graph.nodes],
        "edges": [relation_to_json(r) for r in graph.edges],
        "training_logs": [log.to_json() for log in graph.training_logs],
    }


# ----------------------------------------------------------------------------- one item at a time


def _field(obj: dict, name: str, where: str, default: Any = ..., types: tuple = (str,), nullable: bool = False):
    if name not in obj or (obj[name] is None and default is not ...):
        if default is ...:
            raise InvalidGraphData(f"{where}: missing field {name!r}")
        return default
    v = obj[name]
    if v is None and nullable:
        return None
    if not isinstance(v, types) or isinstance(v, bool) and bool not in types:
        raise InvalidGraphData(f"{where}: field {name!r} has the wrong type ({type(v).__name__})")
    return v


def _id(value: Any) -> Any:
    """The fork wrote numeric ``idx`` values as ids; they are read as strings."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class _GraphBuilder:
    """Turns the items of a graph file into checked records, one at a time."""

    def __init__(self, default_run: str):
        self.default_run = check_text(default_run, "the import's run", empty=False)
        self.nodes: list[Proposition] = []
        self.ids: set[str] = set()
        self.edges: list[tuple[int, Relation]] = []
        self.logs: list[TrainingLog] = []
        self.dimension: int | None = None

    def node(self, i: int, n: Any) -> None:
        where = f"node {i}"
        if not isinstance(n, dict):
            raise InvalidGraphData(f"{where}: expected an object, got {type(n).__name__}")
        nid = _id(n.get("id"))
        if not isinstance(nid, str) or not nid:
            raise InvalidGraphData(f"{where}: missing or empty 'id'")
        where = f"node {i} (id {shown(nid)})"
        if nid in self.ids:
            raise InvalidGraphData(f"{where}: id appears twice")
        text = _field(n, "text", where)
        language = _field(n, "language", where, default=None, nullable=True)
        run = _field(n, "run", where, default=self.default_run)
        emb = n.get("embedding")
        if emb is not None and (not isinstance(emb, list)
                                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in emb)):
            raise InvalidGraphData(f"{where}: 'embedding' must be a list of numbers or null")
        try:
            p = Proposition(nid, text, language, emb, run)
        except InvalidGraphData as exc:
            raise InvalidGraphData(f"node {i}: {exc}") from None
        if p.embedding is not None:
            dim = p.embedding.shape[0]
            if self.dimension is not None and dim != self.dimension:
                raise DimensionMismatch(
                    f"{where}: embeddings of different lengths [{self.dimension}, {dim}] in one file: every "
                    "embedding in one store must have the same length (re-embed with the same model)")
            self.dimension = dim
        self.ids.add(nid)
        self.nodes.append(p)

    def edge(self, i: int, e: Any) -> None:
        where = f"edge {i}"
        if not isinstance(e, dict):
            raise InvalidGraphData(f"{where}: expected an object, got {type(e).__name__}")
        ends = []
        for end in ("source", "target"):
            v = _id(e.get(end))
            if not isinstance(v, str) or not v:
                raise InvalidGraphData(f"{where}: {end} {shown(v)} is not the id of a node in this file")
            ends.append(v)
        rtype = _field(e, "type", where, default="ENTAILS")
        conf = _field(e, "confidence", where, default=1.0, types=(int, float))
        run = _field(e, "run", where, default=self.default_run)
        try:
            self.edges.append((i, Relation(ends[0], ends[1], rtype, conf, run)))
        except InvalidGraphData as exc:
            raise InvalidGraphData(f"{where}: {exc}") from None

    def training_log(self, i: int, g: Any) -> None:
        where = f"training log {i}"
        if not isinstance(g, dict):
            raise InvalidGraphData(f"{where}: expected an object")
        pids = g.get("proposition_ids") or []
        rkeys = g.get("relation_keys") or []
        if not isinstance(pids, list) or not isinstance(rkeys, list) or not all(
                isinstance(x, str) for x in [*pids, *rkeys]):
            raise InvalidGraphData(f"{where}: proposition_ids and relation_keys must be lists of strings")
        count = _field(g, "count", where, types=(int,))
        if not 0 <= count <= MAX_INT:
            raise InvalidGraphData(f"{where}: count must be between 0 and {MAX_INT}")
        values = {name: _field(g, name, where) for name in ("id", "run", "timestamp", "kind")}
        for name, value in [*values.items(), *(("proposition id", x) for x in pids),
                            *(("relation key", x) for x in rkeys)]:
            check_text(value, f"{where}: {name}")
        self.logs.append(TrainingLog(count=count, proposition_ids=tuple(pids), relation_keys=tuple(rkeys),
                                     **values))

    def finish(self) -> Graph:
        for i, r in self.edges:
            for end, v in (("source", r.source), ("target", r.target)):
                if v not in self.ids:
                    raise InvalidGraphData(f"edge {i}: {end} {shown(v)} is not the id of a node in this file")
        # The same relation twice in one file is one relation (the last one given wins).
        edges = dedupe_last((r for _, r in self.edges), key=lambda r: r.key)
        return Graph(self.nodes, edges, self.logs)

    def add(self, name: str) -> Callable[[int, Any], None]:
        return {"nodes": self.node, "edges": self.edge, "training_logs": self.training_log}[name]


# ----------------------------------------------------------------------------- streaming JSON


class _Chunks:
    """JSON text read from ``stream`` in growing chunks and decoded one value at a time by the
    standard decoder (``raw_decode``), so only the value being read has to be in memory."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.lines_before = 0               # newlines in the text already dropped from buf
        self.decoder = json.JSONDecoder()

    def _more(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.stream.read(max(CHUNK_CHARS, len(self.buf) - self.pos))   # doubling: linear time
        except UnicodeDecodeError:
            raise InvalidGraphData("the file is not UTF-8 text; expected a JSON graph export") from None
        if not chunk:
            self.eof = True
            return False
        self.lines_before += self.buf.count("\n", 0, self.pos)
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not white space ("" at the end of the text)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def take(self, char: str) -> None:
        got = self.peek()
        if got != char:
            raise self._error(f"Expecting {char!r}" if got else f"Expecting {char!r}, found the end of the file")
        self.pos += 1

    def value(self) -> Any:
        """The next JSON value, whole (an unfinished one reads more text first)."""
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self._more():
                    continue
                raise self._error(exc.msg, exc.pos) from None
            except RecursionError:
                raise InvalidGraphData(
                    f"the JSON is nested too deeply near line {self._line()} (a graph export nests "
                    "at most four levels)") from None
            except ValueError as exc:          # an integer with more digits than Python reads
                raise InvalidGraphData(f"a number near line {self._line()} is too long to read "
                                       f"({shown(str(exc).split(';')[0])})") from None
            if end >= len(self.buf) and self._more():   # a number may go on in the next chunk
                continue
            self.pos = end
            return value

    def _line(self, pos: int | None = None) -> int:
        return self.lines_before + self.buf.count("\n", 0, self.pos if pos is None else pos) + 1

    def _error(self, msg: str, pos: int | None = None) -> InvalidGraphData:
        pos = self.pos if pos is None else pos
        column = pos - (self.buf.rfind("\n", 0, pos) + 1) + 1
        return InvalidGraphData(f"not valid JSON ({msg} at line {self._line(pos)}, column {column}); "
                                "expected a graph export with 'nodes' and 'edges'")


def _stream_items(chunks: _Chunks) -> Iterator[tuple[str, int, Any]]:
    """(list name, index, item) for every item of the top-level lists in LISTS; checks the
    rest of the document's shape."""
    if chunks.peek() != "{":
        if chunks.peek() != "[":
            chunks.value()                  # a JSON error, or valid JSON of another shape
        raise InvalidGraphData(WHAT_WE_READ)
    chunks.take("{")
    seen: set[str] = set()
    while chunks.peek() != "}":
        if seen:
            chunks.take(",")
        if chunks.peek() != '"':
            raise chunks._error("Expecting property name enclosed in double quotes")
        key = chunks.value()
        chunks.take(":")
        if key in seen and key in LISTS:
            raise InvalidGraphData(f"the field {key!r} appears twice in the file")
        seen.add(key)
        if key in LISTS and chunks.peek() == "[":
            chunks.take("[")
            i = 0
            while chunks.peek() != "]":
                if i:
                    chunks.take(",")
                yield key, i, chunks.value()
                i += 1
            chunks.take("]")
        else:
            value = chunks.value()
            if key in LISTS and not (value is None and key == "training_logs"):
                raise InvalidGraphData(WHAT_WE_READ)
    chunks.take("}")
    if chunks.peek():
        raise chunks._error("Extra data")
    if "nodes" not in seen:
        raise InvalidGraphData(WHAT_WE_READ)


def _text_stream(data: Any) -> tuple[IO[str], Callable[[], None]]:
    """A text stream over ``data`` (str, bytes-like, binary file or path) and how to let go of it
    (without closing a file the caller gave us)."""
    if isinstance(data, str):
        return io.StringIO(data), lambda: None
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = io.BytesIO(data)
    elif isinstance(data, os.PathLike):
        try:
            data = open(Path(data), "rb")        # noqa: SIM115 - closed by the returned function
        except OSError as exc:
            raise InvalidGraphData(f"cannot read {Path(data).name}: {exc.strerror}") from None
        text = io.TextIOWrapper(data, encoding="utf-8-sig")
        return text, text.close
    elif hasattr(data, "seekable") and data.seekable():
        data.seek(0)
    text = io.TextIOWrapper(data, encoding="utf-8-sig")
    return text, text.detach                      # the caller's file stays open


def check_import_size(size_bytes: int, name: str = "the file") -> None:
    """InvalidGraphData if a file of ``size_bytes`` is over MAX_IMPORT_MB, saying what to do."""
    if size_bytes > MAX_IMPORT_MB * 1024 * 1024:
        raise InvalidGraphData(
            f"{name} is larger than {MAX_IMPORT_MB} MB, the most the app imports (about 20,000 propositions "
            "with embeddings). Import larger files from Python: open_store().import_json(path) reads the "
            "file in chunks")


def graph_from_json(data: Any, default_run: str = "import") -> Graph:
    """Parse and check an exported graph (ours or the fork's): a dict, JSON text (str or bytes),
    a binary file, or a path. Raise InvalidGraphData saying exactly what is wrong and where;
    items without a ``run`` get ``default_run``; an edge given twice counts once. Does not
    touch any store."""
    build = _GraphBuilder(default_run)
    if isinstance(data, dict):
        if not isinstance(data.get("nodes"), list) or not isinstance(data.get("edges", []), list) or not (
                data.get("training_logs") is None or isinstance(data["training_logs"], list)):
            raise InvalidGraphData(WHAT_WE_READ)
        for name in LISTS:
            add = build.add(name)
            for i, item in enumerate(data.get(name) or []):
                add(i, item)
        return build.finish()
    if not isinstance(data, (str, bytes, bytearray, memoryview, os.PathLike)) and not hasattr(data, "read"):
        raise InvalidGraphData(f"cannot read a graph from a {type(data).__name__}; " + WHAT_WE_READ)
    stream, let_go = _text_stream(data)
    try:
        for name, i, item in _stream_items(_Chunks(stream)):
            build.add(name)(i, item)
    finally:
        let_go()
    return build.finish()
