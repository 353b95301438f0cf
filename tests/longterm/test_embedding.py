"""Sentence embeddings from the bundled all-MiniLM-L6-v2: offline, [N, 384], unit length,
and meaningful (similar sentences are nearer than unrelated ones)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from ntm.io import ROOT
from ntm.longterm import embedding


@pytest.fixture(scope="module")
def vectors():
    sentences = [
        "A man is playing a guitar.",                 # 0
        "A person plays a musical instrument.",       # 1
        "A woman is slicing an onion in the kitchen.",  # 2
        "Someone is cutting vegetables.",             # 3
        "The central bank raised interest rates.",    # 4
        "Borrowing money became more expensive.",     # 5
    ]
    return sentences, embedding.embed(sentences)


def test_shape_dtype_and_unit_length(vectors):
    _, v = vectors
    assert v.shape == (6, embedding.DIMENSION) == (6, 384)
    assert v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert embedding.embed([]).shape == (0, 384)
    assert embedding.embed_one("A man is playing a guitar.").shape == (384,)


def test_similar_sentences_are_nearer_than_unrelated_ones(vectors):
    _, v = vectors
    sim = v @ v.T
    for a, b in [(0, 1), (2, 3), (4, 5)]:                  # paraphrase pairs
        others = [j for j in range(6) if j not in (a, b)]
        assert sim[a, b] > max(sim[a, j] for j in others) + 0.1
        assert sim[b, a] > max(sim[b, j] for j in others) + 0.1


def test_same_vectors_as_the_models_own_pipeline(vectors):
    """Mean pooling over the attention mask is what sentence-transformers does for this model."""
    st = pytest.importorskip("sentence_transformers")
    sentences, v = vectors
    reference = st.SentenceTransformer(str(embedding.model_path()), device="cpu").encode(
        sentences, normalize_embeddings=True)
    np.testing.assert_allclose(v, reference, atol=1e-5)


def test_batches_and_padding_do_not_change_a_sentence_vector(vectors):
    sentences, v = vectors
    alone = embedding.embed([sentences[4]])[0]
    np.testing.assert_allclose(alone, v[4], atol=1e-5)
    many = embedding.embed([sentences[4]] + ["word " * 300] * 40)   # > one batch, truncated long text
    np.testing.assert_allclose(many[0], v[4], atol=1e-5)
    with pytest.raises(TypeError, match="embed_one"):
        embedding.embed("a plain string is not a list")


def test_import_is_light_and_loading_is_offline(tmp_path):
    """Importing loads neither torch nor transformers; loading sets the offline switches and
    works with no network and an empty Hugging Face cache."""
    code = (
        "import sys\n"
        "from ntm.longterm import embedding, open_store\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'\n"
        "v = embedding.embed_one('hello')\n"
        "import os\n"
        "assert os.environ['HF_HUB_OFFLINE'] == '1' and os.environ['TRANSFORMERS_OFFLINE'] == '1'\n"
        "print(v.shape)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env.update(HF_HOME=str(tmp_path / "hf"), HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(384,)" in out.stdout
