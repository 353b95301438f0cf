"""Sentence embeddings for the dual-memory NTM, computed once per text and kept.

The encoder is the shipped all-MiniLM-L6-v2 (``ntm.longterm.embedding.embed``), frozen: a text's
vector never changes, so it is computed once ever and kept twice:

    in memory   a dict sha256(text) -> [384] float32, per process
    on disk     <data dir>/embeddings/shard-<digest>.npy     [n, 384] float32 (np.save, no pickle)
                <data dir>/embeddings/shard-<digest>.json    the n keys (sha256 of each text), in order

Each batch of new texts is written as one new shard (atomically, ``ntm.io``), never into a shared
index, so processes embedding at the same time cannot overwrite each other's work; when more
than ``MAX_SHARDS`` shards pile up they are merged into one. An epoch over a dataset therefore
embeds each sentence once, and a second run embeds nothing.
"""

from __future__ import annotations

import hashlib
import json
import threading
from io import BytesIO
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..io import atomic_write_bytes, atomic_write_text, data_dir

DIMENSION = 384
MAX_SHARDS = 64


def text_key(text: str) -> str:
    """The cache key of a text: the sha256 hex digest of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _default_embed(texts: list[str]) -> np.ndarray:
    from ..longterm.embedding import embed
    return embed(texts)


class SentenceCache:
    """Embeddings by text, computed by ``embed_fn`` (MiniLM) only for texts never seen before.

    ``folder``: the on-disk cache (default ``<data dir>/embeddings``; None keeps nothing on disk).
    ``computed`` counts the texts this cache has had to embed (tests check it stays put).
    """

    def __init__(self, folder: str | Path | None = "default",
                 embed_fn: Callable[[list[str]], np.ndarray] = _default_embed):
        self.folder = (data_dir() / "embeddings") if folder == "default" else (Path(folder) if folder else None)
        self.embed_fn = embed_fn
        self.vectors: dict[str, np.ndarray] = {}
        self.computed = 0
        self._seen_shards: set[str] = set()
        self._lock = threading.RLock()

    # -- disk ------------------------------------------------------------------------------
    def _load_shards(self) -> None:
        """Read every shard not read yet (a shard removed meanwhile by a merge is skipped)."""
        if self.folder is None or not self.folder.is_dir():
            return
        for index in sorted(self.folder.glob("shard-*.json")):
            if index.name in self._seen_shards:
                continue
            try:
                keys = json.loads(index.read_text(encoding="utf-8"))
                array = np.load(index.with_suffix(".npy"), allow_pickle=False)
            except (OSError, ValueError):
                continue                        # half-merged or damaged: its texts are embedded again
            if not isinstance(keys, list) or array.shape != (len(keys), DIMENSION):
                continue
            for key, row in zip(keys, array.astype(np.float32)):
                self.vectors.setdefault(str(key), row)
            self._seen_shards.add(index.name)

    def _write_shard(self, keys: list[str], array: np.ndarray) -> str:
        """Write one shard (the .npy first, its key list last: a reader sees whole shards only)."""
        digest = hashlib.sha256("".join(keys).encode()).hexdigest()[:20]
        name = f"shard-{digest}.json"
        buf = BytesIO()
        np.save(buf, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
        atomic_write_bytes(self.folder / f"shard-{digest}.npy", buf.getvalue())
        atomic_write_text(self.folder / name, json.dumps(keys))
        self._seen_shards.add(name)
        return name

    def _merge(self) -> None:
        """Rewrite every shard as one, then remove the old ones."""
        self._load_shards()
        old = sorted(self.folder.glob("shard-*.json"))
        keys = sorted(self.vectors)
        merged = self._write_shard(keys, np.stack([self.vectors[k] for k in keys]))
        for index in old:
            if index.name != merged:
                index.unlink(missing_ok=True)
                index.with_suffix(".npy").unlink(missing_ok=True)

    # -- lookup ----------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``texts`` -> ``[N, 384]`` float32 rows of unit length, embedding only unseen texts."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        with self._lock:
            keys = [text_key(t) for t in texts]
            if any(k not in self.vectors for k in keys):
                self._load_shards()
            missing: dict[str, str] = {}
            for key, text in zip(keys, texts):
                if key not in self.vectors:
                    missing.setdefault(key, text)
            if missing:
                new = np.asarray(self.embed_fn(list(missing.values())), dtype=np.float32)
                if new.shape != (len(missing), DIMENSION):
                    raise ValueError(f"the sentence encoder returned shape {new.shape}, "
                                     f"expected ({len(missing)}, {DIMENSION})")
                self.computed += len(missing)
                for key, row in zip(missing, new):
                    self.vectors[key] = row
                if self.folder is not None:
                    self._write_shard(list(missing), new)
                    if len(list(self.folder.glob("shard-*.json"))) > MAX_SHARDS:
                        self._merge()
            return np.stack([self.vectors[k] for k in keys])


_default: SentenceCache | None = None
_default_folder: Path | None = None


def default_cache() -> SentenceCache:
    """The process's cache under the current data folder (a new one if the folder changed)."""
    global _default, _default_folder
    folder = data_dir() / "embeddings"
    if _default is None or _default_folder != folder:
        _default, _default_folder = SentenceCache(folder), folder
    return _default


def encode(texts: Sequence[str]) -> np.ndarray:
    """Embeddings ``[N, 384]`` of ``texts`` through the process's cache (``default_cache``)."""
    return default_cache().encode(texts)


def with_embeddings(graph: dict[str, Any]) -> dict[str, Any]:
    """A graph export whose nodes without an embedding get their text's (``ntm.dual.encode``)."""
    missing = [n for n in graph.get("nodes", []) if isinstance(n, dict) and n.get("embedding") is None
               and isinstance(n.get("text"), str)]
    if missing:
        for node, vector in zip(missing, encode([n["text"] for n in missing])):
            node["embedding"] = vector.tolist()
        graph["dimension"] = graph.get("dimension") or len(missing[0]["embedding"])
    return graph
