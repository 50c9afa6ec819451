"""Prompts longer than the context: the article is cut from its end, the run goes on.

The scripted backend subclasses the real Backend and plays a llama.cpp-like (raises)
or Ollama-like (silently truncates) server; the last test runs the real SmolLM2 model
with a 512-token context through the command line.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import PROJECT, SMOLLM2, write_config
from utils.backends.base import Backend, Completion, Sampling
from utils.errors import BackendUnavailable, HarnessError, PromptTooLong
from utils.run.fit import CUT_MARK, chat_within_context
from utils.run.results import load_result

import generate_model_sentiments

ANSWER = '{"sentiment": 0.4, "confidence": 0.8, "reasoning": "Demand grew."}'
SAMPLING = Sampling(temperature=0.0, max_tokens=100, seed=1)


class ContextBackend(Backend):
    """Counts one token per 4 characters of the messages; ``mode`` says how it overflows."""

    name = "context"

    def __init__(self, context: int, mode: str = "raise") -> None:
        self.context, self.mode, self.sent = context, mode, []

    def load(self) -> None:
        pass

    def chat(self, messages, sampling):
        tokens = sum(len(m["content"]) for m in messages) // 4
        self.sent.append(messages[-1]["content"])
        if tokens >= self.context and self.mode == "raise":
            raise PromptTooLong("context", "m", tokens, self.context)
        truncated = tokens >= self.context and self.mode == "silent"
        squeezed = tokens + sampling.max_tokens > self.context and self.mode == "squeeze"
        return Completion(text="" if squeezed else ANSWER, seconds=0.1, prompt_tokens=min(tokens, self.context),
                          finish_reason="length" if squeezed else "stop", prompt_truncated=truncated)


def build(article: str):
    return [{"role": "system", "content": "Rate the news. " * 20}, {"role": "user", "content": article}]


ARTICLE = " ".join(f"word{i:04d}" for i in range(2000))  # 18,000 characters
FULL_TOKENS = sum(len(m["content"]) for m in build(ARTICLE)) // 4


def test_prompt_too_long_is_its_own_error_not_a_backend_failure() -> None:
    # A handler of BackendUnavailable (the backend is down) must not catch a prompt the run can cut.
    error = PromptTooLong("llama_cpp", "m", 9000, 8192)
    assert isinstance(error, HarnessError) and not isinstance(error, BackendUnavailable)
    assert (error.backend, error.model, error.prompt_tokens, error.context_tokens) == ("llama_cpp", "m", 9000, 8192)
    assert str(error) == "llama_cpp backend, model 'm': prompt of 9000 tokens exceeds the context window of 8192 tokens"


def test_prompt_that_fits_is_sent_once_and_unmarked() -> None:
    backend = ContextBackend(context=8000)
    fitted = chat_within_context(backend, build, ARTICLE, SAMPLING, 8000)
    assert backend.sent == [ARTICLE] and fitted.marks() == {} and fitted.completion.text == ANSWER


def test_too_long_prompt_is_cut_from_the_articles_end_to_leave_room_for_the_answer() -> None:
    backend = ContextBackend(context=1000)
    fitted = chat_within_context(backend, build, ARTICLE, SAMPLING, 1000)
    sent = backend.sent[-1]
    assert fitted.completion.text == ANSWER
    assert sent.endswith(CUT_MARK) and ARTICLE.startswith(sent.removesuffix(CUT_MARK))
    assert (sum(len(m["content"]) for m in build(sent)) // 4) + SAMPLING.max_tokens <= 1000
    marks = fitted.marks()
    assert marks["truncated"] is True
    assert marks["truncation"] == (f"article cut from {len(ARTICLE)} to {len(sent)} characters to fit the "
                                   f"context (the full prompt had {FULL_TOKENS} tokens)")


def test_prompt_too_long_even_without_the_article_is_an_invalid_answer_with_the_reason() -> None:
    backend = ContextBackend(context=120)
    fitted = chat_within_context(backend, build, ARTICLE, SAMPLING, 120)
    assert fitted.completion.text == "" and fitted.completion.finish_reason == "prompt_too_long"
    assert fitted.error.startswith(f"prompt too long for the context: {FULL_TOKENS} tokens for a context of 120 tokens")
    assert fitted.marks()["truncation"] == fitted.error


def test_silent_server_truncation_is_retried_with_a_shorter_article() -> None:
    backend = ContextBackend(context=1000, mode="silent")
    fitted = chat_within_context(backend, build, ARTICLE, SAMPLING, 1000)
    assert not fitted.completion.prompt_truncated and fitted.truncated
    assert len(backend.sent) > 1 and len(backend.sent[-1]) < len(ARTICLE) // 2


def test_server_that_truncates_whatever_it_is_sent_keeps_its_flagged_answer() -> None:
    backend = ContextBackend(context=50, mode="silent")  # the system message alone is 75 "tokens"
    fitted = chat_within_context(backend, build, ARTICLE, SAMPLING, 150)
    assert fitted.completion.text == ANSWER and fitted.completion.prompt_truncated and fitted.error is None
    assert fitted.marks()["truncated"] is True and len(backend.sent) > 1


def test_answer_squeezed_by_the_context_is_asked_again_with_room() -> None:
    backend = ContextBackend(context=4600, mode="squeeze")
    fitted = chat_within_context(backend, build, ARTICLE, SAMPLING, 4600)
    assert fitted.completion.text == ANSWER and fitted.truncated and len(backend.sent) == 2


def long_snapshot(folder) -> None:
    """A snapshot with a short article and one far longer than a 512-token context."""
    shipped = json.loads((PROJECT / "data" / "articles" / "NVDA.json").read_text(encoding="utf-8"))
    short = dict(shipped["articles"][0], title="Nvidia upgraded",
                 content="Nvidia shares rose 2% after a broker upgraded the stock to buy.")
    long_text = " ".join(
        f"Nvidia's investor day, part {i}: the company set out plans for data-center sales, networking "
        f"and software, with targets for each region over the next three years." for i in range(40)
    )
    long = dict(short, key="1ong0001", url="https://example.com/long", title="Nvidia investor day", content=long_text)
    data = dict(shipped, articles=[long, short])
    path = folder / "articles" / "NVDA.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.slow
def test_real_model_with_an_article_longer_than_its_context(tmp_path) -> None:
    long_snapshot(tmp_path)
    models = [dict(SMOLLM2, name="zero", prompt_mode="zero_shot"), dict(SMOLLM2, name="five")]
    write_config(tmp_path, models, iterations=1, context_window_size=512, num_tokens_to_predict=64)
    argv = ["--config", str(tmp_path / "config.yaml"), "-c", "NVDA", "--offline", "-q"]

    assert generate_model_sentiments.main(argv) == 0  # every unit done

    zero = load_result(tmp_path / "sentiments" / "zero" / "NVDA_0.json").sentiments
    long, short = zero["1ong0001"], next(v for k, v in zero.items() if k != "1ong0001")
    assert long.truncated is True
    assert long.truncation.startswith("article cut from ")
    assert "the full prompt had" in long.truncation  # llama.cpp's own count (PromptTooLong)
    assert long.prompt_tokens + 64 <= 512 and long.time_taken > 0
    assert short.truncated is None and short.prompt_tokens + 64 <= 512
    # Five worked examples alone overflow 512 tokens: each answer says so, and the model goes on.
    five = load_result(tmp_path / "sentiments" / "five" / "NVDA_0.json").sentiments
    assert len(five) == 2
    for answer in five.values():
        assert answer.valid is False and answer.sentiment is None
        assert answer.error.startswith("prompt too long for the context: ")
        assert "a context of 512 tokens with 64 kept for the answer" in answer.error
