"""Chat messages for one article, built from the editable texts in ``messages/``.

five_shot: system message, the five worked examples as earlier user/assistant turns,
then the article. zero_shot: system message and article. Everything before the
article is byte-identical from call to call, so llama.cpp can reuse the evaluated
prefix instead of re-reading the examples for every article.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from utils.answers import SentimentResponse
from utils.errors import ConfigError

SYSTEM_FILE = "system_message.txt"
USER_FILE = "user_message.txt"
EXAMPLES_FILE = "few_shot_examples.yaml"

Message = dict[str, str]


class FewShotExample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company_name: str
    article: str
    answer: SentimentResponse


@dataclass(frozen=True)
class PromptTemplates:
    """The three texts a conversation is built from."""

    system: str
    user: str
    examples: tuple[FewShotExample, ...]

    def user_turn(self, company_name: str, article: str) -> str:
        return self.user.format(company_name=company_name, article=article.strip())

    def prefix(self, mode: str) -> list[Message]:
        """Messages before the article: identical for every article of a run."""
        messages: list[Message] = [{"role": "system", "content": self.system}]
        if mode == "five_shot":
            for example in self.examples:
                messages.append({"role": "user", "content": self.user_turn(example.company_name, example.article)})
                messages.append({"role": "assistant", "content": render_answer(example.answer)})
        return messages

    def build(self, mode: str, company_name: str, article: str) -> list[Message]:
        """The whole conversation for one article."""
        return [*self.prefix(mode), {"role": "user", "content": self.user_turn(company_name, article)}]

    def fingerprint(self, mode: str) -> str:
        """Short hash of the prompt prefix, recorded with results to tell prompt versions apart."""
        text = json.dumps(self.prefix(mode), ensure_ascii=False) + self.user
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def render_answer(answer: SentimentResponse) -> str:
    """An example answer exactly as models are asked to write theirs."""
    return json.dumps(answer.model_dump(), ensure_ascii=False)


def load_templates(folder: Path) -> PromptTemplates:
    """Read and check ``messages/``; ConfigError names the file that is wrong."""
    folder = Path(folder)
    system = _read(folder / SYSTEM_FILE)
    user = _read(folder / USER_FILE)
    for field in ("{company_name}", "{article}"):
        if field not in user:
            raise ConfigError(f"{folder / USER_FILE}: the template must contain {field}")
    examples_path = folder / EXAMPLES_FILE
    try:
        raw = yaml.safe_load(_read(examples_path))
        examples = tuple(FewShotExample.model_validate(item) for item in raw or [])
    except (yaml.YAMLError, TypeError) as exc:
        raise ConfigError(f"{examples_path}: invalid examples file: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{examples_path}: {where}: {first['msg']}") from None
    if len(examples) != 5:
        raise ConfigError(f"{examples_path}: five_shot needs exactly 5 examples, found {len(examples)}")
    return PromptTemplates(system=system.strip(), user=user.strip(), examples=examples)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read prompt file: {exc.strerror or exc}") from None
