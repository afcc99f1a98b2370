"""Arena-Hard single-answer grades in FastChat / lmarena arena-hard-auto's layout (``--format arena-hard``).

A directory (e.g. arena-hard-auto's ``data/arena-bench-v1/``) with:

- ``question.jsonl``: ``{question_id, category, turns}``; ``turns`` is a list of strings or, in newer versions, of
  ``{"content": ...}`` objects. The routed prompt is the first turn.
- ``model_judgment/<file>.jsonl``: ``{question_id, model, judgment, score?}``; the model is the row's ``model``
  field, not the file name. The grade is the **last** ``[[N]]`` in the judgment text (N may be a decimal such as
  9.5); a numeric ``score`` field is used only when the text has no grade (``-1``, FastChat's judge-failure mark,
  counts as no grade). Rows with neither are unparseable: left out and counted per model in
  ``meta["n_unparseable"]``. Grades are 1-10, rescaled to [0, 1] as ``(g - 1) / 9``; a grade outside 1-10 is an
  error. Several grades of one (question, model) (e.g. per ``turn``) are averaged and counted; judgments of
  questions not in ``question.jsonl`` are dropped and counted.
- optionally ``model_answer/*.jsonl`` (FastChat answers: ``question_id``, ``model_id``, ``choices[0].turns[0]``):
  the models that have answers are recorded in ``meta``, and each graded answer's length gives its output tokens
  (``ceil(chars / 4)``, :func:`wayfare.data.prices.estimate_tokens`; the files record no token counts), so list
  prices cost input and output; and a ``*_config.yaml`` with ``judge_model`` (in the directory, or
  ``<dir>_config.yaml`` next to it as upstream).

A (question, model) without a grade is NaN. Models are sorted; rows are in ``question.jsonl`` order.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import yaml

from wayfare.data.errors import DataFormatError
from wayfare.data.jsonlines import json_objects
from wayfare.data.prices import CHARS_PER_TOKEN, PriceTable, estimate_tokens, fill_costs
from wayfare.data.table import ResultsTable

RAW_MIN, RAW_MAX = 1.0, 10.0
GRADE = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")
JUDGE_FAILURE = -1.0


def _first_turn(turns: object) -> str | None:
    """The first turn's text, from a string or a ``{"content": ...}`` object; None if ``turns`` is malformed."""
    if not isinstance(turns, list) or not turns:
        return None
    first = turns[0]
    if isinstance(first, dict):
        first = first.get("content")
    return first if isinstance(first, str) else None


def _read_questions(q_path: Path) -> tuple[list[str], dict[str, tuple[str, str]]]:
    order: list[str] = []
    questions: dict[str, tuple[str, str]] = {}
    for lineno, q in json_objects(q_path):
        prompt = _first_turn(q.get("turns"))
        if "question_id" not in q or prompt is None:
            raise DataFormatError(
                f"{q_path}:{lineno}: needs 'question_id' and a non-empty list 'turns' of strings "
                'or {"content": ...} objects'
            )
        qid = str(q["question_id"])
        if qid in questions:
            raise DataFormatError(f"{q_path}:{lineno}: duplicate question_id {qid}")
        questions[qid] = (prompt, str(q.get("category") or ""))
        order.append(qid)
    if not order:
        raise DataFormatError(f"{q_path}: no questions")
    return order, questions


def parse_grade(judgment: object, score: object) -> float | None:
    """The last ``[[N]]`` in the judgment text, else a numeric ``score`` (not -1), else None (unparseable)."""
    if isinstance(judgment, str):
        found = GRADE.findall(judgment)
        if found:
            return float(found[-1])
    if isinstance(score, int | float) and not isinstance(score, bool) and math.isfinite(score):
        return None if score == JUDGE_FAILURE else float(score)
    return None


def _judge(root: Path) -> tuple[str | None, str | None]:
    """``judge_model`` of the directory's ``*_config.yaml`` (or upstream's ``<dir>_config.yaml`` next to it)."""
    candidates = [root / f"{root.name}_config.yaml", root.parent / f"{root.name}_config.yaml"]
    candidates += sorted(root.glob("*_config.yaml"))
    for path in candidates:
        if not path.is_file():
            continue
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataFormatError(f"{path}: cannot read the judge config: {first}") from None
        if isinstance(config, dict) and config.get("judge_model"):
            return str(config["judge_model"]), str(path)
    return None, None


def _answer_text(row: dict[str, object]) -> str | None:
    """The first turn of FastChat's ``choices[0].turns`` (a string or ``{"content": ...}``), else None."""
    choices = row.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    return _first_turn(choices[0].get("turns"))


def _answers(answer_dir: Path) -> tuple[list[str], dict[tuple[str, str], str]]:
    """Models with an answer file (the first row's ``model_id`` or ``model``, else the file name) and each
    (question_id, model)'s answer text (rows without a readable first turn are skipped)."""
    models = set()
    texts: dict[tuple[str, str], str] = {}
    for path in sorted(answer_dir.glob("*.jsonl")) if answer_dir.is_dir() else []:
        name = None
        for _, row in json_objects(path):
            model = str(row.get("model_id") or row.get("model") or path.stem)
            name = name or model
            text = _answer_text(row)
            if "question_id" in row and text is not None:
                texts[(str(row["question_id"]), model)] = text
        models.add(name or path.stem)
    return sorted(models), texts


def load_arena_hard(path: str | Path, *, prices: PriceTable | None = None) -> ResultsTable:
    """Arena-Hard (arena-bench) single-answer grades as a results table named after the directory."""
    root = Path(path)
    name = root.resolve().name
    if not root.is_dir():
        raise DataFormatError(f"{root}: arena-hard format needs a directory with question.jsonl and model_judgment/")
    q_path = root / "question.jsonl"
    if not q_path.is_file():
        raise DataFormatError(f"{root}: arena-hard format needs question.jsonl")
    j_dir = root / "model_judgment"
    if not j_dir.is_dir():
        raise DataFormatError(f"{root}: arena-hard format needs a model_judgment/ directory of <model>.jsonl files")
    j_files = sorted(j_dir.glob("*.jsonl"))
    if not j_files:
        raise DataFormatError(f"{j_dir}: no .jsonl judgment files")
    order, questions = _read_questions(q_path)

    grades: dict[tuple[str, str], list[float]] = defaultdict(list)
    unparseable: Counter[str] = Counter()
    judged: set[str] = set()
    n_unknown = n_rows = 0
    pairwise = False
    for j_path in j_files:
        for lineno, r in json_objects(j_path):
            n_rows += 1
            missing = [k for k in ("question_id", "model") if k not in r]
            if "judgment" not in r and "score" not in r and "games" not in r:
                missing.append("judgment")
            if missing:
                raise DataFormatError(f"{j_path}:{lineno}: missing {', '.join(missing)}")
            pairwise = pairwise or "games" in r
            judgment = r.get("judgment")
            if judgment is not None and not isinstance(judgment, str):
                raise DataFormatError(f"{j_path}:{lineno}: judgment must be text, got {type(judgment).__name__}")
            qid, model = str(r["question_id"]), str(r["model"])
            if qid not in questions:
                n_unknown += 1
                continue
            judged.add(model)
            grade = parse_grade(judgment, r.get("score"))
            if grade is None:
                unparseable[model] += 1
                continue
            if not RAW_MIN <= grade <= RAW_MAX:
                raise DataFormatError(f"{j_path}:{lineno}: grade {grade:g} is outside 1-10")
            grades[(qid, model)].append(grade)
    if not grades:
        hint = " (pairwise 'games' judgments are not supported, only single-answer grades)" if pairwise else ""
        n_known = n_rows - n_unknown
        raise DataFormatError(
            f"{j_dir}: no [[N]] grade or numeric score in the {n_known} judgments of questions in "
            f"{q_path.name} ({n_unknown} judgments of other questions){hint}"
        )

    models = sorted({m for _, m in grades})
    scores = np.full((len(order), len(models)), np.nan, dtype=np.float64)
    col = {m: j for j, m in enumerate(models)}
    row = {q: i for i, q in enumerate(order)}
    for (qid, model), vals in grades.items():
        scores[row[qid], col[model]] = (float(np.mean(vals)) - RAW_MIN) / (RAW_MAX - RAW_MIN)
    judge, judge_config = _judge(root.resolve())
    answers, texts = _answers(root / "model_answer")
    output_tokens = None
    out_known = np.zeros_like(scores, dtype=bool)
    if texts:
        output_tokens = np.full(scores.shape, np.nan, dtype=np.float64)
        for (qid, model), text in texts.items():
            if qid in row and model in col:
                output_tokens[row[qid], col[model]] = estimate_tokens(text)
        out_known = ~np.isnan(output_tokens)
    meta: dict[str, object] = {
        "source": str(root),
        "format": "arena-hard",
        "judge": judge,
        "judge_config": judge_config,
        "raw_score_scale": [RAW_MIN, RAW_MAX],
        "score_transform": "(g - 1) / 9 of the last [[g]] in the judgment text (else its numeric score), "
        "averaged over duplicate judgments",
        "n_unparseable": {m: unparseable[m] for m in sorted(judged)},
        "n_duplicate_judgments_averaged": sum(len(v) - 1 for v in grades.values()),
        "n_unknown_question_dropped": n_unknown,
        "models_without_grades": sorted(judged - set(models)),
        "models_with_answers": answers,
    }
    if output_tokens is not None:
        n_graded = int((~np.isnan(scores)).sum())
        n_both = int((out_known & ~np.isnan(scores)).sum())
        meta["output_tokens_basis"] = (
            "output tokens estimated from each model's answer text in model_answer/ as "
            f"ceil(chars/{CHARS_PER_TOKEN:g}) ({n_both} of {n_graded} graded answers found)"
        )
    table = ResultsTable(
        name=name,
        prompt_ids=[f"{name}/{q}" for q in order],
        prompts=[questions[q][0] for q in order],
        models=models,
        scores=scores,
        categories=[questions[q][1] for q in order],
        meta=meta,
        output_tokens=output_tokens,
    )
    return fill_costs(table, prices)
