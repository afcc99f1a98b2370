"""MT-Bench single-answer judgements in FastChat's format (github.com/lm-sys/FastChat, ``llm_judge``).

A directory with ``question.jsonl`` (``{question_id, category, turns: [t1, t2]}``), ``judgements.jsonl``
(``{question_id, model, judge, score, turn}``; FastChat's own name ``judgments.jsonl`` is accepted too) and
optionally ``contaminated_prompts.jsonl`` (rows with ``eval_prompt``: those questions are dropped).
The routed prompt is turn 1. A model's score on a question is the mean of its turn scores (judge failures,
score -1, dropped), rescaled from the judge's 1-10 scale to [0, 1] as ``(s - 1) / 9``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from wayfare.data.errors import DataFormatError
from wayfare.data.jsonlines import json_objects
from wayfare.data.prices import PriceTable, fill_costs
from wayfare.data.routellm import contaminated_prompts
from wayfare.data.table import ResultsTable

RAW_MIN, RAW_MAX = 1.0, 10.0
JUDGEMENT_FILES = ("judgements.jsonl", "judgments.jsonl")


def judge_name(judge: object) -> str:
    """FastChat stores ``judge`` as ``[judge_model, prompt_template]``; the judge is the model, e.g. ``gpt-4``."""
    if isinstance(judge, list | tuple) and judge:
        return str(judge[0])
    return str(judge)


def load_mt_bench(path: str | Path, *, prices: PriceTable | None = None, judge: str | None = None) -> ResultsTable:
    """MT-Bench as a results table; ``judge`` picks one judge (default: the judge with the most judgements)."""
    root = Path(path)
    q_path = root / "question.jsonl"
    j_path = next((root / f for f in JUDGEMENT_FILES if (root / f).is_file()), None)
    if not q_path.is_file() or j_path is None:
        raise DataFormatError(f"{root}: MT-Bench format needs question.jsonl and judgements.jsonl")
    dropped = contaminated_prompts(root / "contaminated_prompts.jsonl")

    questions: dict[str, tuple[str, str]] = {}
    order: list[str] = []
    n_contaminated = 0
    for lineno, q in json_objects(q_path):
        turns = q.get("turns")
        if "question_id" not in q or not isinstance(turns, list) or not turns or not isinstance(turns[0], str):
            raise DataFormatError(f"{q_path}:{lineno}: needs 'question_id' and a non-empty list of string 'turns'")
        qid = str(q["question_id"])
        if qid in questions:
            raise DataFormatError(f"{q_path}:{lineno}: duplicate question_id {qid}")
        if turns[0] in dropped:
            n_contaminated += 1
            continue
        questions[qid] = (turns[0], str(q.get("category") or ""))
        order.append(qid)

    judgements: list[tuple[str, str, str, float]] = []
    for lineno, r in json_objects(j_path):
        missing = [k for k in ("question_id", "model", "judge", "score") if k not in r]
        if missing:
            raise DataFormatError(f"{j_path}:{lineno}: missing {', '.join(missing)}")
        score = r["score"]
        if not isinstance(score, int | float):
            raise DataFormatError(f"{j_path}:{lineno}: score must be a number, got {score!r}")
        judgements.append((judge_name(r["judge"]), str(r["question_id"]), str(r["model"]), float(score)))
    if not judgements:
        raise DataFormatError(f"{j_path}: no judgements")
    judge_counts = Counter(j for j, *_ in judgements)
    chosen = judge if judge is not None else judge_counts.most_common(1)[0][0]
    if chosen not in judge_counts:
        raise DataFormatError(f"{j_path}: no judgements by judge {chosen!r} (judges: {', '.join(judge_counts)})")

    per: dict[tuple[str, str], list[float]] = defaultdict(list)
    failures = 0
    for j, qid, model, score in judgements:
        if j != chosen or qid not in questions:
            continue
        if score == -1:
            failures += 1
            continue
        if not RAW_MIN <= score <= RAW_MAX:
            raise DataFormatError(f"{j_path}: question {qid}, model {model}: score {score} is outside 1-10")
        per[(qid, model)].append(score)
    models = sorted({m for _, m in per})
    if not models:
        raise DataFormatError(f"{j_path}: no valid judgements by {chosen!r} for the questions in {q_path}")
    scores = np.full((len(order), len(models)), np.nan, dtype=np.float64)
    col = {m: j for j, m in enumerate(models)}
    row = {q: i for i, q in enumerate(order)}
    for (qid, model), vals in per.items():
        scores[row[qid], col[model]] = (float(np.mean(vals)) - RAW_MIN) / (RAW_MAX - RAW_MIN)
    meta: dict[str, object] = {
        "source": str(root),
        "format": "mt-bench",
        "judge": chosen,
        "judges_available": dict(judge_counts),
        "raw_score_scale": [RAW_MIN, RAW_MAX],
        "score_transform": "mean over the judged turns of (score - 1) / 9",
        "n_judge_failures_dropped": failures,
        "n_contaminated_dropped": n_contaminated,
    }
    table = ResultsTable(
        name="mt-bench",
        prompt_ids=[f"mt-bench/{q}" for q in order],
        prompts=[questions[q][0] for q in order],
        models=models,
        scores=scores,
        categories=[questions[q][1] for q in order],
        meta=meta,
    )
    return fill_costs(table, prices)
