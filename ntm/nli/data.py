"""NLI examples from a file: the CDCL-NLI JSON format, or SNLI/MultiNLI-style JSONL.

CDCL-NLI (the format of the dual-memory fork of pytorch-ntm): one JSON list of entries

    {"premise": [{"text": "...", "language": "en"}, ...],     one or more premises
     "hypothesis": {"text": "...", "language": "en"},
     "label": "entailment" | "contradiction" | "neutral"}

(other keys, such as ``id`` or ``pattern``, are kept in ``NLIExample.extra``). SNLI/MultiNLI JSONL:
one JSON object per line with ``sentence1`` (the premise), ``sentence2`` (the hypothesis) and
``gold_label``; lines whose gold label is ``-`` (no annotator consensus) are skipped, as those
corpora's own readers do, and counted.

Every problem is reported as ``NLIDataError`` naming the file and the entry (index or line) and what
is wrong; nothing is downloaded, and a file is read only from the path given, up to ``MAX_BYTES``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LABELS = ("entailment", "contradiction", "neutral")
MAX_BYTES = 512 * 1024 * 1024          # a file larger than this is refused before it is read
MAX_TEXT = 10_000                      # characters in one premise or hypothesis


class NLIDataError(ValueError):
    """A data file cannot be used; the message names the file, the entry and what to fix."""


@dataclass(frozen=True)
class NLIExample:
    """One inference problem: premises (text, language), a hypothesis, and its label."""

    premises: tuple[tuple[str, str], ...]
    hypothesis: tuple[str, str]
    label: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_cdcl(self) -> dict[str, Any]:
        """The entry in the CDCL-NLI format (``extra`` keys after the three of the format)."""
        return {"premise": [{"text": t, "language": lang} for t, lang in self.premises],
                "hypothesis": {"text": self.hypothesis[0], "language": self.hypothesis[1]},
                "label": self.label, **self.extra}


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise NLIDataError(f"{where}: expected non-empty text, got {_show(value)}")
    if len(value) > MAX_TEXT:
        raise NLIDataError(f"{where}: text of {len(value):,} characters, more than {MAX_TEXT:,}")
    return value.strip()


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _sentence(value: Any, where: str) -> tuple[str, str]:
    if not isinstance(value, dict):
        raise NLIDataError(f"{where}: expected an object with \"text\" and \"language\", got {_show(value)}")
    language = value.get("language", "und")
    if not isinstance(language, str) or not 1 <= len(language) <= 16:
        raise NLIDataError(f"{where}.language: expected a language code such as \"en\", got {_show(language)}")
    return _text(value.get("text"), f"{where}.text"), language


def _label(value: Any, where: str) -> str:
    if value not in LABELS:
        raise NLIDataError(f"{where}: label must be one of {', '.join(LABELS)}; got {_show(value)}")
    return value


def parse_cdcl(entries: Any, name: str) -> list[NLIExample]:
    """CDCL-NLI entries (the parsed JSON list) as examples; ``name`` is how errors name the file."""
    if not isinstance(entries, list):
        raise NLIDataError(f"{name}: a CDCL-NLI file is a JSON list of entries; got a {type(entries).__name__}")
    out = []
    for i, entry in enumerate(entries):
        where = f"{name}, entry {i}"
        if not isinstance(entry, dict):
            raise NLIDataError(f"{where}: expected an object, got {_show(entry)}")
        missing = [k for k in ("premise", "hypothesis", "label") if k not in entry]
        if missing:
            raise NLIDataError(f"{where}: missing {', '.join(missing)}")
        premise = entry["premise"]
        premises = premise if isinstance(premise, list) else [premise]
        if not premises:
            raise NLIDataError(f"{where}: premise is an empty list")
        parsed = tuple(_sentence(p, f"{where}.premise[{j}]") for j, p in enumerate(premises))
        extra = {k: v for k, v in entry.items() if k not in ("premise", "hypothesis", "label")}
        out.append(NLIExample(parsed, _sentence(entry["hypothesis"], f"{where}.hypothesis"),
                              _label(entry["label"], f"{where}.label"), extra))
    return out


def parse_snli_lines(lines: list[str], name: str) -> tuple[list[NLIExample], int]:
    """SNLI/MultiNLI JSONL lines as examples, and how many ``-`` (no consensus) lines were skipped."""
    out, skipped = [], 0
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name}, line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise NLIDataError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise NLIDataError(f"{where}: expected an object, got {_show(obj)}")
        if obj.get("gold_label") == "-":
            skipped += 1
            continue
        missing = [k for k in ("sentence1", "sentence2", "gold_label") if k not in obj]
        if missing:
            raise NLIDataError(f"{where}: missing {', '.join(missing)} (SNLI-style lines need sentence1, "
                               f"sentence2 and gold_label)")
        extra = {k: obj[k] for k in ("pairID", "genre") if k in obj}
        out.append(NLIExample(((_text(obj["sentence1"], f"{where}.sentence1"), "en"),),
                              (_text(obj["sentence2"], f"{where}.sentence2"), "en"),
                              _label(obj["gold_label"], f"{where}.gold_label"), extra))
    return out, skipped


def load_nli(path: str | Path) -> list[NLIExample]:
    """Every example of a CDCL-NLI JSON file or an SNLI/MultiNLI-style JSONL file.

    The format is told from the content: a file whose first non-blank character opens a JSON list
    is CDCL-NLI; otherwise each line is an object (SNLI style).

    Raises:
        NLIDataError: the file is missing, too large, not UTF-8, malformed, or holds no examples.
    """
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise NLIDataError(f"{name}: no such file (give the path of a CDCL-NLI .json or SNLI-style .jsonl file)")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise NLIDataError(f"{name}: {size / 2**20:,.0f} MB, more than the {MAX_BYTES // 2**20} MB this loader reads")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NLIDataError(f"{name}: not UTF-8 text") from None
    if text.lstrip().startswith("["):
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as exc:
            raise NLIDataError(f"{name}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        except RecursionError:
            raise NLIDataError(f"{name}: nested too deeply to be an NLI file") from None
        examples = parse_cdcl(entries, name)
    else:
        examples, _ = parse_snli_lines(text.splitlines(), name)
    if not examples:
        raise NLIDataError(f"{name}: holds no examples")
    return examples


def label_counts(examples: list[NLIExample]) -> dict[str, int]:
    counts = Counter(e.label for e in examples)
    return {label: counts.get(label, 0) for label in LABELS}


def majority_accuracy(examples: list[NLIExample]) -> float:
    """The accuracy of always answering the file's most frequent label."""
    return max(label_counts(examples).values()) / len(examples) if examples else 0.0


__all__ = ["LABELS", "MAX_BYTES", "NLIDataError", "NLIExample", "parse_cdcl", "parse_snli_lines", "load_nli",
           "label_counts", "majority_accuracy"]
