"""The whole chain on a tiny budget: ``python -m training all`` on a synthetic FinancialPhraseBank-shaped
set (dataset → LoRA fine-tune → F16 + Q4_K_M GGUF with an importance matrix → Modelfiles → register over loopback → base five-shot vs
fine-tune zero-shot on the test split → comparison workbook), then the export proof against the merged
PyTorch model. The short prompt set in training/prompts keeps the sequences short.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.helpers import PROJECT
from tests.training.helpers import fake_ollama, write_fpb, write_training_config
from training.__main__ import main as training_main
from training.config import load_training_config
from training.naming import gguf_path
from utils.labelled.splits import read_split_keys
from utils.answers import parse_answer

pytestmark = pytest.mark.slow  # trains, builds llama.cpp tools, quantizes

SHORT_PROMPTS = PROJECT / "training" / "prompts"  # short system message: shorter records, faster steps
# F16 weights against the float32 PyTorch model: logits differ by rounding only. Measured on
# these prompts: largest gap 0.026-0.035 on logits spanning ~44; the Q4_K_M file of the same
# model is 4.1-4.4 off, so the bound tells a faithful export from a merely similar one.
LOGIT_TOLERANCE = 0.1
ANSWER_TOKENS = 160  # the evaluation's num_tokens_to_predict (training/pipeline.py)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chain")
    fpb = write_fpb(folder / "fpb", {"all": 40, "75": 12, "66": 0, "50": 0})
    config_path = write_training_config(
        folder, fpb, messages_folder=str(SHORT_PROMPTS),
        dataset={"agreement_levels": ["all", "75"], "max_eval_items": 4},
        finetune={"max_steps": 10, "batch_size": 4, "learning_rate": 0.001, "eval_steps": 5, "logging_steps": 5,
                  "max_seq_length": 256, "warmup_ratio": 0.0},
        # The importance-matrix path: llama.cpp's tools built from the sdist (once per machine, minutes).
        export={"quantizations": ["Q5_K_M", "Q4_K_M"], "imatrix": True, "imatrix_chunks": 2},
        evaluate={"limit": 4, "iterations": 1, "output_dir": str(folder / "evaluation"),
                  "news_tickers": ["NVDA"], "news_limit": 4, "news_iterations": 2},
    )
    with fake_ollama() as ollama:
        code = training_main(["all", "--config", str(config_path), "--set", f"ollama.ollama_host={ollama.url}", "-q"])
    config = load_training_config(config_path)
    return code, config, ollama


def test_chain_exits_cleanly(chain):
    code, _, _ = chain
    assert code == 0


def test_metadata_records_the_run(chain):
    _, config, _ = chain
    meta = json.loads((config.merged_dir / "training_metadata.json").read_text())
    assert meta["trainer"] == "transformers" and meta["steps"] == 10
    assert meta["base_model"]["sha256"] and meta["data"]["train"]["sha256"] and meta["split_file"]["sha256"]
    assert [entry["step"] for entry in meta["eval_losses"]] == [5, 10]
    assert meta["train_losses"][-1]["loss"] < meta["train_losses"][0]["loss"]
    assert meta["hyperparameters"]["lora"]["r"] == 16 and meta["wall_seconds"] > 0
    assert (config.adapter_dir / "adapter_config.json").is_file()


def test_quantizations_used_the_importance_matrix(chain):
    import gguf

    _, config, _ = chain
    exports = json.loads((config.gguf_dir / "exports.json").read_text())
    assert exports["Q4_K_M"]["imatrix"] and not exports["F16"]["imatrix"]
    # Q5_K falls back to q5_1 on SmolLM2's 576-wide rows; those tensors are written as q5_0.
    types = Counter(t.tensor_type.name for t in gguf.GGUFReader(gguf_path(config, "Q5_K_M")).tensors)
    # llama.cpp's own recipe (q8_0 for some attn_v layers, Q5_K/Q6_K for ffn_down) is kept.
    assert types == {"Q5_0": 166, "F32": 61, "Q5_K": 16, "Q8_0": 15, "Q6_K": 14}
    assert exports["Q5_K_M"]["replaced_fallbacks"] == {"q5_1->q5_0": 166}
    assert exports["Q4_K_M"]["replaced_fallbacks"] == {}
    fields = gguf.GGUFReader(gguf_path(config, "Q4_K_M")).fields
    assert "quantize.imatrix.file" in fields and "quantize.imatrix.chunks_count" in fields
    # The calibration text is the training conversations in the model's own chat template.
    calibration = (config.gguf_dir / "imatrix-calibration.txt").read_text()
    assert calibration.startswith("<|im_start|>system\n") and "<|im_start|>assistant\n{" in calibration


def test_modelfiles_and_registration(chain):
    _, config, ollama = chain
    names = sorted(p.name for p in config.modelfiles.folder.glob("*.Modelfile"))
    assert names == ["tiny-sentiment-f16.Modelfile", "tiny-sentiment-q4_K_M.Modelfile",
                     "tiny-sentiment-q5_K_M.Modelfile"]
    assert [c["model"] for c in ollama.creates] == ["tiny-sentiment:f16", "tiny-sentiment:q5_K_M",
                                                       "tiny-sentiment:q4_K_M"]


def test_every_quantization_answers_with_valid_json(chain):
    _, config, _ = chain
    folder = config.evaluate.output_dir / "sentiments"
    test_keys = set(read_split_keys(config.data_dir / "splits.json", "test"))
    for quant in ("f16", "q5_K_M", "q4_K_M"):
        result = json.loads((folder / f"tiny-sentiment_{quant}" / "FPB-AllAgree-test_0.json").read_text())
        assert result["prompt_mode"] == "zero_shot"
        assert set(result["sentiments"]) <= test_keys and len(result["sentiments"]) == 4
        valid = [item["valid"] for item in result["sentiments"].values()]
        assert all(valid), [item.get("raw_text") for item in result["sentiments"].values()]
    base = json.loads((folder / "smollm2-135m-instruct_q4_1" / "FPB-AllAgree-test_0.json").read_text())
    assert base["prompt_mode"] == "five_shot"


def test_comparison_workbook_has_the_accuracy_sheets(chain):
    from openpyxl import load_workbook

    _, config, _ = chain
    workbook = load_workbook(config.evaluate.output_dir / "reports" / "model_comparison_report.xlsx", read_only=True)
    assert {"Accuracy", "Significance"} <= set(workbook.sheetnames)
    models = {row[0] for row in workbook["Accuracy"].iter_rows(min_row=2, values_only=True)}
    assert {"tiny-sentiment_f16", "tiny-sentiment_q5_K_M", "tiny-sentiment_q4_K_M",
            "smollm2-135m-instruct_q4_1"} <= models


def test_news_comparison_workbook_beside_the_test_splits(chain):
    from openpyxl import load_workbook

    _, config, _ = chain
    folder = config.evaluate.output_dir
    for model in ("tiny-sentiment_f16", "tiny-sentiment_q4_K_M", "smollm2-135m-instruct_q4_1"):
        result = json.loads((folder / "news_sentiments" / model / "NVDA_1.json").read_text())
        assert len(result["sentiments"]) == 4 and result["settings"]["prompt_set"] == str(SHORT_PROMPTS)
    workbook = load_workbook(folder / "reports" / "news_comparison_report.xlsx", read_only=True)
    assert {"Leaderboard", "Consistency", "Pairwise", "Accuracy"} <= set(workbook.sheetnames)


def test_evaluate_step_reuses_finished_answers(chain):
    _, config, _ = chain
    folder = config.evaluate.output_dir / "sentiments"
    files = sorted(folder.glob("*/FPB-AllAgree-test_0.json"))
    before = {path: path.stat().st_mtime_ns for path in files}
    config_path = config.output_dir.parent / "training.yaml"
    assert training_main(["evaluate", "--config", str(config_path), "-q"]) == 0
    assert len(files) == 4 and {path: path.stat().st_mtime_ns for path in files} == before
    assert (config.evaluate.output_dir / "reports" / "model_comparison_report.xlsx").is_file()


def test_f16_gguf_matches_the_merged_model(chain):
    """Proof of the export: same tokens, same greedy continuation, next-token logits within LOGIT_TOLERANCE."""
    import llama_cpp
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, config, _ = chain
    tokenizer = AutoTokenizer.from_pretrained(config.merged_dir)
    model = AutoModelForCausalLM.from_pretrained(config.merged_dir, dtype=torch.float32).eval()
    llm = llama_cpp.Llama(str(gguf_path(config, "F16")), n_ctx=512, logits_all=True, verbose=False, seed=0)
    records = [json.loads(line) for line in (config.data_dir / "test.jsonl").read_text().splitlines()[:3]]
    try:
        for record in records:
            text = tokenizer.apply_chat_template(record["messages"][:-1], tokenize=False, add_generation_prompt=True)
            hf_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            assert llm.tokenize(text.encode(), add_bos=False, special=True) == hf_ids
            with torch.no_grad():
                torch_logits = model(torch.tensor([hf_ids])).logits[0, -1].numpy()
            llm.reset()
            llm.eval(hf_ids)
            gguf_logits = np.array(llm.scores[len(hf_ids) - 1])
            assert np.max(np.abs(torch_logits - gguf_logits)) < LOGIT_TOLERANCE
            greedy = model.generate(torch.tensor([hf_ids]), max_new_tokens=24, do_sample=False)[0, len(hf_ids):]
            ours = llm.create_completion(text, max_tokens=24, temperature=0.0)["choices"][0]["text"]
            assert ours == tokenizer.decode(greedy, skip_special_tokens=True)
            # 24 tokens cannot hold a whole answer, so the greedy answer is checked against the
            # contract at the evaluation's own budget (it must be valid, not merely cut short).
            whole = llm.create_completion(text, max_tokens=ANSWER_TOKENS, temperature=0.0)["choices"][0]["text"]
            assert parse_answer(whole).valid, whole
    finally:
        llm.close()
