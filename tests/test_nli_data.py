"""NLI data: the CDCL-NLI and SNLI-style loaders on good and malformed files, and the shipped
synthetic dataset (seeded, balanced, two languages, test held out)."""

import json
import re

import pytest

from ntm.io import ROOT
from ntm.nli import NLIDataError, label_counts, load_nli, majority_accuracy
from ntm.nli.synthetic import PATTERNS, SIZES, make_split, write_dataset

GOOD = [{"premise": [{"text": "Tom owns a poodle.", "language": "en"}, {"text": "Tom ist hier.", "language": "de"}],
         "hypothesis": {"text": "Tom owns a dog.", "language": "en"}, "label": "entailment", "id": "a"},
        {"premise": [{"text": "Ann is in Oslo.", "language": "en"}],
         "hypothesis": {"text": "Ann is in Rome.", "language": "en"}, "label": "contradiction"}]


def test_a_cdcl_file_loads_with_its_premises_languages_and_extra_fields(tmp_path):
    path = tmp_path / "good.json"
    path.write_text(json.dumps(GOOD))
    first, second = load_nli(path)
    assert first.premises == (("Tom owns a poodle.", "en"), ("Tom ist hier.", "de"))
    assert first.hypothesis == ("Tom owns a dog.", "en") and first.label == "entailment" and first.extra == {"id": "a"}
    assert first.to_cdcl() == GOOD[0]
    assert label_counts([first, second]) == {"entailment": 1, "contradiction": 1, "neutral": 0}
    assert majority_accuracy([first, second]) == 0.5


def test_snli_style_jsonl_loads_and_skips_lines_without_consensus(tmp_path):
    path = tmp_path / "snli.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in [
        {"sentence1": "A man plays.", "sentence2": "A person plays.", "gold_label": "entailment", "pairID": "1"},
        {"sentence1": "A man plays.", "sentence2": "Nobody plays.", "gold_label": "-"},
        {"sentence1": "A dog runs.", "sentence2": "A cat sleeps.", "gold_label": "neutral"}]) + "\n")
    examples = load_nli(path)
    assert [e.label for e in examples] == ["entailment", "neutral"] and examples[0].extra == {"pairID": "1"}
    assert examples[0].premises == (("A man plays.", "en"),)


@pytest.mark.parametrize("content, message", [
    ("[1, 2]", "good.json, entry 0: expected an object"),
    (json.dumps([{**GOOD[0], "label": "maybe"}]), "entry 0.label: label must be one of entailment"),
    (json.dumps([{k: v for k, v in GOOD[0].items() if k != "hypothesis"}]), "entry 0: missing hypothesis"),
    (json.dumps([GOOD[1], {**GOOD[1], "premise": []}]), "entry 1: premise is an empty list"),
    (json.dumps([{**GOOD[1], "premise": [{"text": "  ", "language": "en"}]}]), "entry 0.premise[0].text: expected non-empty text"),
    (json.dumps([{**GOOD[1], "hypothesis": "just text"}]), "entry 0.hypothesis: expected an object"),
    ('[{"premise": ', "not valid JSON (line 1"),
    ("[" * 100_000, "nested too deeply"),
    ("[]", "holds no examples"),
    ('{"sentence1": "a", "gold_label": "neutral"}', "line 1: missing sentence2"),
    ("not json at all", "line 1: not valid JSON"),
])
def test_a_malformed_file_names_the_file_the_entry_and_the_problem(tmp_path, content, message):
    path = tmp_path / "good.json"
    path.write_text(content)
    with pytest.raises(NLIDataError, match=re.escape(message)):
        load_nli(path)


def test_missing_and_non_utf8_files_are_clear_errors(tmp_path):
    with pytest.raises(NLIDataError, match="nope.json: no such file"):
        load_nli(tmp_path / "nope.json")
    (tmp_path / "latin.json").write_bytes(b"[\xff]")
    with pytest.raises(NLIDataError, match="latin.json: not UTF-8"):
        load_nli(tmp_path / "latin.json")


def test_the_generator_is_seeded_balanced_and_holds_the_test_split_out(tmp_path):
    assert make_split("dev", 42, seed=3) == make_split("dev", 42, seed=3)
    assert make_split("dev", 42, seed=3) != make_split("dev", 42, seed=4)
    train, test = make_split("train", 210, 0), make_split("test", 210, 0)
    for split in (train, test):
        assert label_counts(split) == {"entailment": 70, "contradiction": 70, "neutral": 70}
        assert {e.extra["pattern"] for e in split} == set(PATTERNS)
        assert {lang for e in split for _, lang in e.premises} == {"en", "de"}
    names = lambda ex: {w for e in ex for t, _ in [*e.premises, e.hypothesis] for w in re.findall(r"\b[A-Z][a-z]+\b", t)}
    shared = names(train) & names(test) - {"The", "Every", "No", "Kein", "Jedes", "Mitglied", "Der", "Die", "Das"}
    assert not shared, shared
    assert max(e.extra["steps"] for e in train) == 2 and max(e.extra["steps"] for e in test) == 3
    counts = write_dataset(tmp_path, seed=0)
    assert counts == SIZES


def test_the_shipped_files_are_what_the_generator_makes(tmp_path):
    write_dataset(tmp_path, seed=0)
    for split in SIZES:
        shipped = ROOT / "data" / "cdcl-nli" / f"{split}.json"
        assert json.loads(shipped.read_text()) == json.loads((tmp_path / f"{split}.json").read_text()), split
    assert len(load_nli(ROOT / "data" / "cdcl-nli" / "train.json")) >= 1500
