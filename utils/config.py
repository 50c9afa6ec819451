"""config.yaml, parsed into strict pydantic models.

Every problem is reported as ``<file>: <key path>: <what was expected>`` so that a
typo is found at start-up rather than after an hour of inference. Unknown keys
are errors (the strict-config base in utils/strict_config.py, shared with
training/config.py). Relative paths are resolved against the folder holding the config
file, so a run does not depend on the directory it was started from.
"""

from __future__ import annotations

import difflib
import logging
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, model_validator

from utils.errors import ConfigError
from utils.rule_book import RuleBook
from utils.strict_config import StrictModel, read_yaml_mapping, validate

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config.yaml"

_LOCATION_KEYS = ("path", "package_resource", "gguf_package")
_OPENAI_KEYS = {"base_url", "model", "api_key_env", "timeout_s", "max_retries", "requests_per_minute",
                "max_requests", "stop", "response_format", "extra_body"}
PromptMode = Literal["five_shot", "zero_shot"]
BackendName = Literal["llama_cpp", "ollama", "openai"]


def _model_from_tag(value: Any) -> Any:
    """A bare string in models_to_test is an Ollama tag, as in the original tool."""
    if isinstance(value, str):
        return {"name": value, "backend": "ollama", "ollama_model": value}
    return value


class ModelSpec(StrictModel):
    """One model to benchmark: where its weights are and how to prompt it."""

    name: str = Field(min_length=1, description="Display name; ':' becomes '_' in folder names.")
    backend: BackendName = Field(
        "llama_cpp", description="llama_cpp (embedded), ollama, or openai (any OpenAI-compatible server).")
    path: Path | None = Field(None, description="GGUF file on disk (llama_cpp).")
    package_resource: str | None = Field(
        None,
        description="GGUF file inside an installed package: 'package_name/relative/file.gguf'.",
    )
    gguf_package: str | None = Field(
        None,
        description="Installed package that assembles a GGUF from chunks through its assemble() (llama_cpp).",
    )
    ollama_model: str | None = Field(None, description="Ollama tag (ollama); defaults to name.")
    family: str | None = Field(None, description="Model family, e.g. 'smollm2-135m'.")
    quantization: str | None = Field(None, description="Quantization label, e.g. 'q4_K_M'.")
    prompt_mode: PromptMode = Field(
        "five_shot",
        description="five_shot for base/instruct models, zero_shot for fine-tuned sentiment models.",
    )
    chat_format: str | None = Field(
        None, description="llama-cpp-python chat format override, e.g. 'gemma', 'chatml'."
    )
    messages_folder: Path | None = Field(
        None, description="This model's prompt set (system message, examples, user template), e.g. the one "
        "a fine-tune was trained with (default: the global messages_folder).")
    n_gpu_layers: int = Field(-1, ge=-1, description="Layers to offload when the build has a GPU.")
    # backend: openai (utils/backends/openai_chat.py); none of these applies to another backend.
    base_url: str | None = Field(None, description="openai: the API root, e.g. http://127.0.0.1:8080/v1.")
    model: str | None = Field(None, min_length=1, description="openai: the server's model id (GET <base_url>/models).")
    api_key_env: str | None = Field(
        None, min_length=1, description="openai: environment variable holding the API key (never the key itself).")
    timeout_s: float = Field(300.0, gt=0, description="openai: seconds one answer may take.")
    max_retries: int = Field(3, ge=0, le=10, description="openai: retries on 429, 5xx and connection errors.")
    requests_per_minute: float | None = Field(None, gt=0, description="openai: most requests started per minute.")
    max_requests: int | None = Field(
        None, ge=1, description="openai: requests one command may send (retries and warm-ups count); then its "
        "units stop, keeping their answers for a rerun.")
    stop: list[str] = Field(default_factory=list, max_length=4, description="openai: stop sequences.")
    response_format: Literal["json_schema", "json_object"] = Field(
        "json_schema", description="openai: how constrained decoding sends the schema: json_schema (OpenAI's "
        "shape) or json_object with a schema (llama-cpp-python's server).")
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="openai: server-specific request fields, e.g. {repeat_penalty: 1.0}.")

    @model_validator(mode="after")
    def _check_location(self) -> "ModelSpec":
        if self.backend == "llama_cpp":
            given = [k for k in _LOCATION_KEYS if getattr(self, k) is not None]
            if len(given) != 1:
                raise ValueError(
                    "a llama_cpp model needs exactly one of 'path', 'package_resource' or 'gguf_package'"
                    + (f" (got: {', '.join(given)})" if given else "")
                )
            if self.ollama_model is not None:
                raise ValueError("'ollama_model' only applies to backend: ollama")
        elif self.backend == "openai":
            extra = [k for k in (*_LOCATION_KEYS, "ollama_model", "chat_format") if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"an openai model is named by 'base_url' and 'model', not by {', '.join(extra)}")
        else:
            if any(getattr(self, k) is not None for k in _LOCATION_KEYS):
                raise ValueError("an ollama model is named by 'ollama_model', not by a file location")
            if self.chat_format is not None:
                raise ValueError("'chat_format' only applies to backend: llama_cpp (Ollama uses the Modelfile template)")
        return self

    @model_validator(mode="after")
    def _check_openai(self) -> "ModelSpec":
        given = sorted(_OPENAI_KEYS & self.model_fields_set)
        if self.backend != "openai":
            if given:
                verb = "applies" if len(given) == 1 else "apply"
                raise ValueError(f"{', '.join(repr(k) for k in given)} only {verb} to backend: openai")
            return self
        missing = [key for key in ("base_url", "model") if getattr(self, key) is None]
        if missing:
            raise ValueError(f"an openai model needs {' and '.join(repr(k) for k in missing)}")
        if not self.base_url.startswith(("http://", "https://")):  # type: ignore[union-attr]
            raise ValueError(f"base_url must start with http:// or https:// (got {self.base_url!r})")
        return self

    @property
    def folder_name(self) -> str:
        """Results folder name, compatible with the original tool (':' → '_')."""
        return safe_model_folder(self.name)

    @property
    def tag(self) -> str:
        return self.ollama_model or self.name


def safe_model_folder(name: str) -> str:
    """The folder name a model's results are stored under."""
    return name.replace(":", "_").replace("/", "_").replace("\\", "_")


class CompanyOverride(StrictModel):
    name: str | None = Field(
        None, min_length=1,
        description="Company name used in prompts, e.g. 'Nvidia' (default: the built-in table or Yahoo's).",
    )
    aliases: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="Other names that mark a story as about the company: people, products "
        "(added to the built-in ones).",
    )


class NewsSettings(StrictModel):
    """How Yahoo Finance news is fetched and cached (see utils/news)."""

    feed_url: str = Field(
        "https://feeds.finance.yahoo.com/rss/2.0/headline?s={ticker}&region=US&lang=en-US",
        description="RSS headline feed; {ticker} is replaced.",
    )
    quote_search_url: str = Field(
        "https://query2.finance.yahoo.com/v1/finance/search",
        description="Yahoo quote search, used online to name unknown tickers.",
    )
    cache_path: Path = Field(Path("cache/http_cache.sqlite"), description="requests-cache SQLite file.")
    cache_expire_hours: float = Field(24.0, gt=0, description="How long cached HTTP responses stay fresh.")
    request_delay_s: float = Field(1.0, ge=0, description="Polite delay between page requests.")
    connect_timeout_s: float = Field(5.0, gt=0, description="Seconds to wait for a connection.")
    read_timeout_s: float = Field(20.0, gt=0, description="Seconds to wait for a response.")
    max_retries: int = Field(3, ge=0, le=10, description="Retries of a request that got 429, a 5xx or a network error.")
    backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles each retry.")
    max_response_bytes: int = Field(3_000_000, gt=1000, description="A larger response body is refused.")
    max_retry_after_s: float = Field(
        60.0, ge=0, description="Longest Retry-After honoured; a longer one ends the retries."
    )
    max_redirects: int = Field(5, ge=0, le=30, description="Redirects followed per request.")
    feed_cache_expire_hours: float = Field(
        1.0, gt=0, description="How long a cached feed stays fresh (pages use cache_expire_hours)."
    )
    min_article_chars: int = Field(
        200, ge=0, description="Article bodies shorter than this are skipped as stubs."
    )
    max_article_chars: int | None = Field(
        None, ge=200,
        description="Longer article texts are cut at a paragraph boundary when the snapshot is "
        "written (default: what fits context_window_size beside the examples and the answer).",
    )
    near_duplicate_similarity: float = Field(
        0.8, gt=0.0, le=1.0,
        description="Share of shared 5-word shingles above which two articles are one story.",
    )
    respect_robots_txt: bool = Field(
        True, description="Skip article pages that the site's robots.txt disallows."
    )
    user_agent: str = Field(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0 Safari/537.36",
        description="User-Agent header of every request.",
    )
    boilerplate_rules: dict[str, Any] = Field(
        default_factory=dict,
        description="More boilerplate rules, in the shape of utils/news/boilerplate_rules.yaml "
        "(generic, providers, disable); added to the shipped ones.",
    )
    video_pages: Literal["skip", "keep"] = Field(
        "skip", description="Video pages (a player and a caption): skipped with the reason, or kept as kind: video."
    )

    @model_validator(mode="after")
    def _valid_boilerplate_rules(self) -> "NewsSettings":
        try:
            RuleBook.model_validate(dict(self.boilerplate_rules))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ValueError(f"boilerplate_rules: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
        return self


class Config(StrictModel):
    """The whole of config.yaml. Key names match the tool this project grew from."""

    models_to_test: list[Annotated[ModelSpec, BeforeValidator(_model_from_tag)]] = Field(
        min_length=1, description="The models: an Ollama tag, or a mapping (see Models).")
    comparison_pairs: list[tuple[str, str]] = Field(
        default_factory=list, description="Pairs of model names compared head to head in the report.")

    iterations: int = Field(
        3, ge=1, le=1000,
        description="Iterations per model: each model answers every item this many times "
        "(the older name sample_size is still read, with a warning).",
    )
    seed: int = Field(42, ge=0, description="Iteration i uses seed + i.")
    default_temperature: float = Field(0.2, ge=0.0, le=2.0, description="Sampling temperature.")
    repeat_penalty: float = Field(
        1.0, ge=1.0, le=2.0, description="Penalty on repeated tokens (1.0: off). Penalties also hit JSON keys and digits."
    )
    context_window_size: int = Field(
        8192, ge=512, le=262144, description="Context window: n_ctx (llama.cpp), num_ctx (Ollama).")
    num_tokens_to_predict: int = Field(1024, ge=16, le=32768, description="Token limit per answer.")
    constrained_decoding: bool = Field(
        False, description="Constrain output to the answer's JSON schema (grammar / format)."
    )
    stop_after_json: bool = Field(
        True, description="llama_cpp: stop generating once the first JSON object is complete."
    )
    n_threads: int | None = Field(None, ge=1, description="CPU threads for llama.cpp (default: all).")
    flash_attn: bool = Field(
        False, description="llama_cpp: flash attention (faster prefill; answers then depend on the thread count).")
    workers: int = Field(
        1, ge=1, le=256, description="Processes (or Ray actors) sharing the work; each gets cores / workers threads."
    )
    executor: Literal["local", "ray"] = Field("local", description="local processes, or a Ray cluster.")
    ray_address: str | None = Field(None, description="Ray cluster to join (default: start a local one).")
    chunk_size: int = Field(
        4, ge=1, le=10000, description="Items per task handed to a worker or actor (the unit of retry)."
    )
    parallel: int = Field(
        1, ge=1, le=64, description="Items in flight per model: llama.cpp sequences decoded together, "
        "or concurrent Ollama or OpenAI-compatible requests.",
    )

    ticker_symbol: str = Field("NVDA", min_length=1, max_length=12, description="Ticker when --company is not given.")
    max_news_age: float = Field(7, gt=0, description="Days; older feed items are dropped.")
    max_news_items: int = Field(20, ge=1, le=200, description="At most this many articles per snapshot.")
    companies: dict[str, CompanyOverride] = Field(
        default_factory=dict, description="Company name and aliases per ticker (see companies entries).")
    news: NewsSettings = Field(default_factory=NewsSettings, description="How news is fetched (see news).")

    ollama_host: str | None = Field(None, description="Ollama URL; default OLLAMA_HOST or localhost.")
    ollama_timeout_s: float = Field(300.0, gt=0, description="Seconds to wait for one Ollama answer.")

    neutral_band: float = Field(0.2, ge=0.0, lt=1.0, description="|sentiment| below this is neutral.")
    bootstrap_resamples: int = Field(
        2000, ge=100, le=100000, description="Bootstrap resamples of the confidence intervals.")

    articles_folder: Path = Field(Path("data/articles"), description="Article snapshots, per ticker.")
    messages_folder: Path = Field(
        Path("messages"), description="Prompt texts: system message, few-shot examples, user template.")
    sentiment_save_folder: Path = Field(
        Path("sentiments"), description="Result files, one per model, subject and iteration.")
    report_output_file: Path = Field(
        Path("reports/model_comparison_report.xlsx"), description="The comparison workbook.")
    report_output_csv_file: Path = Field(
        Path("reports/model_metrics.csv"), description="Per (model, article) metrics; a workbook is written beside it.")
    report_output_csv_folder: Path = Field(
        Path("reports"), description="Folder of the comparison report's CSV files (one per sheet).")
    heatmaps_folder: Path = Field(Path("heatmaps"), description="Heatmap PNGs.")
    report_example_sample_size: int | None = Field(
        None, description="Accepted for compatibility with old configs; not used."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> "Config":
        folders = Counter(spec.folder_name for spec in self.models_to_test)
        shared = [folder for folder, count in folders.items() if count > 1]
        if shared:
            raise ValueError(f"two models share the results folder {shared[0]!r}: give them distinct names")
        return self

    @property
    def sample_size(self) -> int:
        """The older name of ``iterations``, read-only, for code written against it."""
        return self.iterations

    def model(self, name: str) -> ModelSpec:
        """The configured model called ``name`` (or whose folder name is ``name``)."""
        for spec in self.models_to_test:
            if name in (spec.name, spec.folder_name):
                return spec
        known = [m.name for m in self.models_to_test]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown model {name!r}.{hint} Configured: {', '.join(known)}")

    def resolve_paths(self, base: Path) -> "Config":
        """A copy whose relative paths are anchored at ``base``."""
        updates: dict[str, Any] = {}
        for key, value in self:
            if isinstance(value, Path) and not value.is_absolute():
                updates[key] = base / value
        models = [
            m.model_copy(update={key: base / getattr(m, key) for key in ("path", "messages_folder")
                                 if getattr(m, key) is not None and not getattr(m, key).is_absolute()})
            for m in self.models_to_test
        ]
        news = self.news
        if not news.cache_path.is_absolute():
            news = news.model_copy(update={"cache_path": base / news.cache_path})
        return self.model_copy(update={**updates, "models_to_test": models, "news": news})


def validate_config(data: Any, path: Path) -> Config:
    """``data`` (a config file's parsed YAML) validated, paths anchored at ``path``'s folder;
    ConfigError naming file and keys when it is wrong."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    renamed = "sample_size" in data
    if renamed:
        data = _renamed_sample_size(data, path)
    try:
        config = validate(Config, data, path)
    except ConfigError as exc:
        if not renamed:
            raise
        # The value was written as sample_size: name the key the file has.
        raise ConfigError(str(exc).replace(f"{path}: iterations:", f"{path}: sample_size:")) from None
    return config.resolve_paths(path.resolve().parent)


def _renamed_sample_size(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """``data`` with the older key sample_size read as iterations (a warning naming the file);
    ConfigError when both are given."""
    if "iterations" in data:
        raise ConfigError(f"{path}: sample_size and iterations are both given: they are one setting "
                          "(sample_size is the older name); keep only iterations")
    log.warning("%s: sample_size is deprecated: it is read as iterations; rename the key", path)
    renamed = {key: value for key, value in data.items() if key != "sample_size"}
    renamed["iterations"] = data["sample_size"]
    return renamed


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate a config file; raise ConfigError naming file and keys."""
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    return validate_config(read_yaml_mapping(path), path)
