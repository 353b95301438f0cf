"""The dual-memory NTM (ntm.dual, issue 12): cached sentence embeddings, the cdcl-nli task, the
forward pass with the long-term memory on and off, a short training run that writes the graph,
and the command line (train, evaluate --data --json)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ntm.dual.encode import SentenceCache, encode
from ntm.longterm import RELATION_TYPES, Proposition, Relation, open_store, proposition_id
from ntm.model import build_model
from ntm.nli import LABELS, load_nli
from ntm.tasks import make_task

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = 60                      # training examples used here: their sentences are embedded once, then cached


@pytest.fixture
def store(tmp_path):
    with open_store("embedded", path=tmp_path / "graph.json") as s:
        yield s


def small_model(task, **kw):
    torch.manual_seed(0)
    cfg = {"input_size": task.input_size, "output_size": task.output_size, "controller_size": 32,
           "memory_slots": 8, "memory_width": 8, "input_projection": 32, "long_term_dim": 8,
           "long_term_nodes": 4, "write_confidence": 0.0, **kw}
    return build_model("dual", cfg)


# -- embeddings -------------------------------------------------------------------------------------

def test_same_text_same_vector_embedded_once_ever(tmp_path):
    texts = ["A man is sleeping.", "Ein Hund läuft im Park.", "A man is sleeping."]
    first = SentenceCache(tmp_path)
    a = first.encode(texts)
    assert a.shape == (3, 384) and a.dtype == np.float32
    assert first.computed == 2                                  # the repeated text once
    assert np.array_equal(a[0], a[2]) and not np.array_equal(a[0], a[1])
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert first.encode(texts[:1]).tobytes() == a[0].tobytes() and first.computed == 2
    # A new process (a new cache on the same folder) reads the vectors instead of embedding again.
    def refuse(batch):
        raise AssertionError(f"re-embedded {batch}")
    second = SentenceCache(tmp_path, embed_fn=refuse)
    assert np.array_equal(second.encode(texts), a) and second.computed == 0
    assert not list(tmp_path.glob("*.pkl")) and list(tmp_path.glob("shard-*.npy"))


def test_cache_embeds_only_unseen_texts(tmp_path):
    calls = []

    def fake(batch):
        calls.append(list(batch))
        rng = np.random.default_rng(len(calls))
        v = rng.normal(size=(len(batch), 384)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    cache = SentenceCache(tmp_path, embed_fn=fake)
    cache.encode(["a", "b"])
    cache.encode(["b", "c", "a"])
    assert calls == [["a", "b"], ["c"]]


# -- the task ---------------------------------------------------------------------------------------

def test_episode_is_premises_hypothesis_then_answer():
    task = make_task("cdcl-nli", max_examples=SMALL)
    batch = task.sample(3, torch.Generator().manual_seed(1), length=2)
    assert batch.inputs.shape == (3, 4, 3 * 384 + 1) and batch.targets.shape == (3, 4, 3)
    assert batch.mask[:, 3].all() and not batch.mask[:, :3].any()
    assert (batch.inputs[:, 3] == 0).all()                                  # the answer step is silent
    assert (batch.inputs[:, :, -1] == torch.tensor([0.0, 0.0, 1.0, 0.0])).all()   # the hypothesis flag
    for i, example in enumerate(batch.examples):
        assert len(example.premises) == 2
        texts = [t for t, _ in example.premises] + [example.hypothesis[0]]
        assert torch.equal(batch.inputs[i, :3, :384], torch.from_numpy(encode(texts)))
        assert batch.targets[i, 3].tolist() == [float(label == example.label) for label in LABELS]


def test_pair_features_compare_each_premise_with_the_hypothesis():
    from ntm.dual.encode import encode
    from ntm.tasks.nli import batch_of

    task = make_task("cdcl-nli", max_examples=SMALL)
    examples = [e for e in task.examples if len(e.premises) == 2][:2]
    pair, single = batch_of(examples, "pair"), batch_of(examples, "sentence")
    assert pair.inputs.shape == (2, 4, 1153) and single.inputs.shape == (2, 4, 385)
    for i, e in enumerate(examples):
        p = torch.from_numpy(encode([t for t, _ in e.premises]))            # [2, 384]
        h = torch.from_numpy(encode([e.hypothesis[0]]))[0]                  # [384]
        torch.testing.assert_close(pair.inputs[i, :2, :384], p)
        torch.testing.assert_close(pair.inputs[i, :2, 384:768], p * h)      # e(p) * e(h)
        torch.testing.assert_close(pair.inputs[i, :2, 768:1152], (p - h).abs())
        torch.testing.assert_close(pair.inputs[i, 2, :384], h)
        assert (pair.inputs[i, 2, 384:1152] == 0).all()                     # the hypothesis step: e(h) alone
        torch.testing.assert_close(single.inputs[i, :3, :384], pair.inputs[i, :3, :384])
    assert (single.inputs[:, :, -1] == pair.inputs[:, :, -1]).all()
    assert make_task("cdcl-nli", max_examples=SMALL, features="sentence").input_size == 385
    with pytest.raises(ValueError, match="features must be one of pair, sentence"):
        make_task("cdcl-nli", max_examples=SMALL, features="bag")


def test_bad_data_file_is_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"premise": [{"text": "x", "language": "en"}], "hypothesis": {"text": "y"},
                                "label": "maybe"}]))
    with pytest.raises(ValueError, match=r"bad.json, entry 0.*label"):
        make_task("cdcl-nli", data=str(bad))


# -- the model --------------------------------------------------------------------------------------

def filled(store, task, n=6):
    """A store holding the sentences of the task's first ``n`` examples, premises ENTAILS hypothesis."""
    props, rels = {}, []
    for e in task.examples[:n]:
        texts = [t for t, _ in e.premises] + [e.hypothesis[0]]
        for t, v in zip(texts, encode(texts)):
            props[proposition_id(t)] = Proposition(proposition_id(t), t, "en", v)
        rels += [Relation(proposition_id(t), proposition_id(texts[-1]), "ENTAILS", 0.9) for t in texts[:-1]]
    store.add_propositions(props.values())
    store.add_relations(rels)
    return store


class Counting:
    """A store wrapper that counts the nearest-neighbour queries."""

    def __init__(self, store):
        self.store, self.queries = store, 0

    def __getattr__(self, name):
        return getattr(self.store, name)

    def nearest(self, vector, k=5):
        self.queries += 1
        return self.store.nearest(vector, k)


@pytest.mark.parametrize("long_term", [True, False])
def test_forward_with_long_term_memory_on_and_off(store, long_term):
    task = make_task("cdcl-nli", max_examples=SMALL)
    model = small_model(task, long_term=long_term)
    counting = Counting(filled(store, task))
    model.attach_store(counting)
    batch = task.sample(2, torch.Generator().manual_seed(0), length=2)
    logits, state, _ = model(batch.inputs)
    assert logits.shape == (2, 4, 3) and torch.isfinite(logits).all()
    assert state.long_term.shape == (2, 8)
    logits[batch.mask].sum().backward()
    if long_term:
        assert counting.queries == 2 * 4                        # one read per sequence and step
        assert model.key.weight.grad is not None and model.key.weight.grad.abs().sum() > 0
        read = model.last_reads[-1]
        assert read.weights.shape == (2, 4) and torch.allclose(read.weights.sum(-1), torch.ones(2))
        assert all(set(ids) <= {p.id for p in store.graph().nodes} for ids in read.ids)
        assert torch.allclose(read.modes.sum(-1), torch.ones(2))
    else:
        assert counting.queries == 0 and model.key.weight.grad is None
        assert (state.long_term == 0).all()


def test_reads_zero_without_a_store():
    task = make_task("cdcl-nli", max_examples=SMALL)
    model = small_model(task)
    logits, state, _ = model(task.sample(2, torch.Generator().manual_seed(0), length=1).inputs)
    assert (state.long_term == 0).all() and model.last_reads == []


# -- training writes the graph ----------------------------------------------------------------------

def test_short_training_run_learns_and_writes_the_graph(tmp_path, store):
    from ntm.training import RunSpec, TrainSettings, Trainer

    spec = RunSpec("cdcl-nli", "dual", seed=3,
                   settings=TrainSettings(batch_size=8, num_batches=40, report_interval=10, checkpoint_interval=0),
                   model={"controller_size": 32, "memory_slots": 8, "memory_width": 8, "input_projection": 32,
                          "long_term_dim": 8, "long_term_nodes": 4, "write_confidence": 0.0, "write_every": 2},
                   task_params={"max_examples": SMALL})
    trainer = Trainer(spec, tmp_path / "run", progress=False)
    trainer.model.attach_store(store)
    trainer.model.run_name = "test-run"
    assert trainer.run()["state"] == "done"
    curve = [json.loads(line)["loss"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert curve[-1] < curve[0]

    examples = make_task("cdcl-nli", max_examples=SMALL).examples
    hypotheses = {proposition_id(e.hypothesis[0]) for e in examples}
    sentences = {proposition_id(t) for e in examples for t, _ in [*e.premises, e.hypothesis]}
    g = store.graph()
    assert g.nodes and {p.id for p in g.nodes} <= sentences
    assert all(p.embedding is not None and p.embedding.shape == (384,) and p.run == "test-run" for p in g.nodes)
    assert {p.language for p in g.nodes} <= {"en", "de"}
    assert g.edges and all(r.target in hypotheses and r.type in RELATION_TYPES and 0 <= r.confidence <= 1
                           for r in g.edges)
    logs = store.training_logs("test-run")
    assert {log.kind for log in logs} == {"propositions", "relations"}
    assert len([log for log in logs if log.kind == "propositions"]) <= 40 // 2     # every 2nd batch


# -- the command line -------------------------------------------------------------------------------

def test_cli_train_then_evaluate_data_json(tmp_path, capsys):
    from ntm.__main__ import main

    preset = tmp_path / "preset"
    rc = main(["train", "--task", "cdcl-nli", "--model-type", "dual", "-p", f"max_examples={SMALL}",
               "-p", "short_term_n=8", "-p", "short_term_m=8", "-p", "controller_size=32", "-p", "threads=1",
               "-p", "write_confidence=0", "-p", "num_epochs=0.5", "--batch-size", "10",
               "--checkpoint-path", str(tmp_path / "run"), "--long-term-store", str(tmp_path / "graph.json"),
               "--preset-out", str(preset), "--preset-sequences", "2", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and json.loads(out.strip().splitlines()[-1])["batches"] == 3      # 0.5 * 60 / 10
    config = json.loads((preset / "config.json").read_text())
    assert config["model_type"] == "dual" and config["model"]["memory_slots"] == 8
    assert json.loads((preset / "graph.json").read_text())["nodes"]

    data = tmp_path / "few.json"
    few = load_nli("data/cdcl-nli/dev.json")[:9]
    data.write_text(json.dumps([e.to_cdcl() for e in few]))
    assert main(["evaluate", "--preset", str(preset), "--data", str(data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"accuracy", "per_label", "majority"}
    assert 0 <= result["accuracy"] <= 1 and set(result["per_label"]) == set(LABELS)
    counts = [sum(e.label == label for e in few) for label in LABELS]
    assert result["majority"] == pytest.approx(max(counts) / 9)

    assert main(["evaluate", "--preset", str(preset), "--data", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert "missing.json" in err and str(tmp_path) not in err

    (preset / "graph.json").write_text("{not json")         # a damaged graph export: one line, exit 2
    assert main(["evaluate", "--preset", str(preset), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "preset/graph.json is not a readable graph export" in err and "Traceback" not in err


def test_copy_episodes_are_consolidated_as_linked_memory_rows(store):
    from ntm.dual.writer import CONSOLIDATE_ROWS

    task = make_task("copy", seq_width=4, max_len=4)
    torch.manual_seed(0)
    model = build_model("dual", {"input_size": task.input_size, "output_size": task.output_size,
                                 "controller_size": 16, "memory_slots": 12, "memory_width": 6, "key_size": 6,
                                 "input_projection": 0, "long_term_dim": 4})
    model.attach_store(store)
    model.run_name = "copy-run"
    batch = task.sample(2, torch.Generator().manual_seed(0), length=4)
    logits, _, _ = model(batch.inputs)
    assert model.after_batch(7, batch, logits.detach()) == {"propositions": CONSOLIDATE_ROWS,
                                                            "relations": CONSOLIDATE_ROWS - 1}
    g = store.graph()
    slots = [int(p.text.rsplit(" ", 1)[1]) for p in g.nodes]
    assert all(p.text.startswith("copy-run batch 7, slot ") and p.embedding.shape == (6,) for p in g.nodes)
    by_id = {p.id: int(p.text.rsplit(" ", 1)[1]) for p in g.nodes}
    assert sorted((by_id[r.source], by_id[r.target]) for r in g.edges) == list(zip(sorted(slots), sorted(slots)[1:]))
    # The next read finds them: the long-term read of a later episode retrieves these rows.
    model(batch.inputs)
    assert model.last_reads and set(model.last_reads[-1].ids[0]) <= set(by_id)


def test_history_of_an_nli_run_stays_within_the_premise_counts():
    from ntm.training import history_lengths

    task = make_task("cdcl-nli", max_examples=SMALL)
    for model_type, cfg in (("lstm", {"hidden_size": 8, "layers": 1}), ("dual", {"memory_slots": 64})):
        model = build_model(model_type, {"input_size": task.input_size, "output_size": 3, **cfg})
        assert history_lengths(task, model) == [task.train_lengths[1]]       # no episode has more premises


def test_accuracy_breaks_down_by_pattern_and_premise_language():
    from ntm.dual.nli_eval import BREAKDOWNS, evaluate_nli, premise_languages
    from ntm.nli import NLIExample

    class AlwaysEntails(torch.nn.Module):               # answers "entailment" at every step
        def forward(self, inputs):
            logits = torch.zeros(*inputs.shape[:2], 3)
            logits[..., LABELS.index("entailment")] = 1.0
            return logits, None, None

    def ex(pattern, languages, label):
        premises = tuple((f"{pattern} premise {i}.", lang) for i, lang in enumerate(languages))
        return NLIExample(premises, (f"{pattern} hypothesis.", "en"), label, {"pattern": pattern})

    examples = [ex("negation", ["en"], "entailment"), ex("negation", ["de"], "neutral"),
                ex("comparison", ["en", "de"], "entailment"), ex("comparison", ["en", "en"], "entailment")]
    result = evaluate_nli(AlwaysEntails(), examples, features="sentence", breakdown=BREAKDOWNS)
    assert result["accuracy"] == 0.75
    assert result["by_pattern"] == {"comparison": {"accuracy": 1.0, "majority": 1.0, "examples": 2},
                                    "negation": {"accuracy": 0.5, "majority": 0.5, "examples": 2}}
    assert {k: v["accuracy"] for k, v in result["by_language"].items()} == {"de": 0.0, "en": 1.0, "mixed": 1.0}
    assert premise_languages(examples[2]) == "mixed" and "by_pattern" not in evaluate_nli(
        AlwaysEntails(), examples, features="sentence")
