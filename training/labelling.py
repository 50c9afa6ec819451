"""Unlabelled news articles labelled by a stronger model, through the harness's own run.

``dataset.articles`` in training/config.yaml names article snapshots and a labeller from
a harness config (``models_to_test``). The labeller reads every article as its entry says
(five-shot, the default, or zero-shot with its own ``messages_folder`` when the labeller is
itself a fine-tune), exactly as in a benchmark run (same backends, prompts, answer
validation, journal and result files), so a stopped labelling run resumes where it
stopped and a finished one is not asked again. Articles without a valid answer are asked again, up to ``retries`` times,
with a new seed and ``retry_temperature`` (greedy decoding would repeat the same invalid
answer); what is still invalid after that is left out and counted.

An answer becomes a label by the harness's one neutral-band rule, and a training example
whose confidence target is the labeller's own confidence unless a fixed value is set.

The labeller may be any OpenAI-compatible server (``backend: openai``), local or hosted.
Its ``max_requests`` budget and ``requests_per_minute`` rate then hold for the whole
labelling command, every snapshot and retry pass together: such a labeller is asked from
this one process (its concurrency is ``parallel``, not ``workers``). A spent budget stops
the labelling with the answers so far journaled; the next command continues from them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from training.config import ArticleLabelSettings, TrainingConfig
from utils.errors import DatasetError, HarnessError
from utils.items import Item
from utils.labels import label_from_score
from utils.news.snapshot_store import load_snapshot
from utils.run.results import ItemResult, load_result, result_path

log = logging.getLogger(__name__)

SOURCE = "articles"  # the examples' agreement field: where their label came from


@dataclass(frozen=True)
class LabelledArticle:
    key: str
    text: str
    company: str
    label: str
    confidence: float
    snapshot: str


@dataclass
class LabellingReport:
    """What the labelling run gave: labels, and the articles left out with the reason."""

    labelled: list[LabelledArticle] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)  # article key -> why
    attempts: dict[str, int] = field(default_factory=dict)  # snapshot -> attempts made


def clip_text(text: str, max_chars: int) -> str:
    """The text cut at the last space before ``max_chars`` (a training record must fit the
    fine-tune's max_seq_length with its answer; trl drops records whose answer is cut)."""
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    space = cut.rfind(" ")
    return (cut[:space] if space > max_chars // 2 else cut).rstrip()


def label_articles(config: TrainingConfig, show_progress: bool = False) -> LabellingReport:
    """Label every article of the configured snapshots; DatasetError when the labeller cannot run."""
    settings = config.dataset.articles
    report = LabellingReport()
    if settings is None or not settings.snapshots:
        return report
    from utils.config import load_config

    harness = load_config(settings.labeller_config)
    spec = harness.model(settings.labeller)
    if spec.backend == "openai":  # one process, so that one budget and one rate limit hold
        harness = harness.model_copy(update={"workers": 1, "executor": "local"})
    for snapshot_path in settings.snapshots:
        snapshot = load_snapshot(snapshot_path)
        company = snapshot.company_name or snapshot.ticker
        answers, attempts = _label_snapshot(config, settings, harness, spec, snapshot.ticker, company,
                                            snapshot.articles, show_progress)
        report.attempts[str(snapshot_path)] = attempts
        for article in snapshot.articles:
            answer = answers.get(article.key)
            if answer is None or not answer.valid or answer.sentiment is None:
                why = answer.error if answer is not None and answer.error else "no valid answer"
                report.dropped[article.key] = f"{why} (after {attempts} attempt(s))"
                continue
            confidence = settings.confidence if settings.confidence is not None else answer.confidence
            report.labelled.append(LabelledArticle(
                key=article.key, text=clip_text(article.text, settings.max_chars), company=company,
                label=label_from_score(answer.sentiment, harness.neutral_band),
                confidence=float(confidence or 0.0), snapshot=str(snapshot_path)))  # a valid answer has one
    if report.dropped:
        log.warning("%d article(s) got no valid label from %s and are left out", len(report.dropped), settings.labeller)
    log.info("labelled %d article(s) with %s", len(report.labelled), settings.labeller)
    return report


def _label_snapshot(config: TrainingConfig, settings: ArticleLabelSettings, harness, spec, ticker: str,
                    company: str, articles: Sequence[Item], show_progress: bool
                    ) -> tuple[dict[str, ItemResult], int]:
    """Answers by article key after the first pass and the retries; and the attempts made."""
    from utils.run.prompts import load_templates
    from utils.run.runner import RunPlan, run_benchmark

    answers: dict[str, ItemResult] = {}
    pending = list(articles)
    attempts = 0
    for attempt in range(settings.retries + 1):
        if not pending:
            break
        attempts += 1
        # A retry is its own unit (its own result file and journal), so every attempt resumes.
        subject = f"{ticker}-labels" if attempt == 0 else f"{ticker}-labels-retry{attempt}"
        run_config = harness if attempt == 0 else harness.model_copy(
            update={"default_temperature": settings.retry_temperature, "seed": harness.seed + 1000 * attempt})
        plan = RunPlan(config=run_config, templates=load_templates(run_config.messages_folder), subject=subject,
                       company_name=company, items=pending, models=[spec], iterations=1,
                       output_dir=config.labels_dir, source={"kind": "labelling", "ticker": ticker})
        summary = run_benchmark(plan, show_progress=show_progress)
        if summary.failed:
            raise DatasetError(f"labelling {ticker} with {spec.name} failed: {summary.failed[0].error}; "
                               "fix the cause and rerun (finished answers are kept)")
        path = result_path(config.labels_dir, spec.folder_name, subject, 0)
        try:
            result = load_result(path)
        except HarnessError as exc:
            raise DatasetError(f"labelling {ticker}: {exc}") from None
        answers.update(result.sentiments)
        pending = [a for a in pending if not answers.get(a.key) or not answers[a.key].valid]
        if pending and attempt < settings.retries:
            log.info("%s: %d invalid answer(s); asking again (attempt %d)", ticker, len(pending), attempt + 2)
    return answers, attempts


def labels_source_info(settings: ArticleLabelSettings | None) -> dict:
    """What the split file records about the article labels."""
    if settings is None or not settings.snapshots:
        return {}
    from utils.io import file_sha256

    return {"labeller": settings.labeller, "labeller_config": str(settings.labeller_config),
            "snapshots": {str(p): file_sha256(Path(p)) for p in settings.snapshots}}
