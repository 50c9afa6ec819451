"""Weight repacking (llama.cpp's CPU extra buffers) is off where llama.cpp was built with AMX."""

from __future__ import annotations

import types

import pytest

from utils.backends.llamacpp import _extra_buffers, weight_repacking


class _Params:
    use_extra_bufts = True


def _fake_llama_cpp(system_info: str) -> types.SimpleNamespace:
    inner = types.SimpleNamespace(llama_model_default_params=_Params)
    return types.SimpleNamespace(llama_print_system_info=lambda: system_info.encode(), llama_cpp=inner)


AMX = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |"
NO_AMX = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |"


def test_off_with_an_amx_build_on_without(monkeypatch):
    monkeypatch.delenv("LLAMA_ARG_REPACK", raising=False)
    assert weight_repacking(_fake_llama_cpp(AMX)) is False
    assert weight_repacking(_fake_llama_cpp(NO_AMX)) is True


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("on", True), ("0", False), ("false", False)])
def test_llama_arg_repack_decides_when_set(monkeypatch, value, expected):
    monkeypatch.setenv("LLAMA_ARG_REPACK", value)
    assert weight_repacking(_fake_llama_cpp(AMX)) is expected
    assert weight_repacking(_fake_llama_cpp(NO_AMX)) is expected


def test_the_defaults_read_while_loading_carry_the_setting_and_are_restored():
    fake = _fake_llama_cpp(AMX)
    with _extra_buffers(fake, False):
        assert fake.llama_cpp.llama_model_default_params().use_extra_bufts is False
    assert fake.llama_cpp.llama_model_default_params is _Params
    with pytest.raises(RuntimeError), _extra_buffers(fake, False):
        raise RuntimeError("load failed")
    assert fake.llama_cpp.llama_model_default_params is _Params  # restored on failure too


@pytest.mark.slow
def test_a_loaded_model_used_the_setting(smollm2_backend):
    import llama_cpp

    assert smollm2_backend._llm.model_params.use_extra_bufts is weight_repacking(llama_cpp)
    assert llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts is True  # the default is untouched


def test_the_server_wrapper_runs_llama_cpp_server_with_the_setting(monkeypatch):
    """``python -m utils.backends.llamacpp_server`` is llama_cpp.server with repacking as the harness has it."""
    import runpy
    import sys

    import llama_cpp

    from utils.backends import llamacpp_server

    seen = {}

    def run_module(name, run_name, alter_sys):
        seen.update(name=name, run_name=run_name, argv=list(sys.argv),
                    repack=llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts)

    monkeypatch.setattr(runpy, "run_module", run_module)
    monkeypatch.setattr(sys, "argv", ["llamacpp_server"])
    monkeypatch.setenv("LLAMA_ARG_REPACK", "0")
    llamacpp_server.main(["--model", "m.gguf", "--port", "8000"])
    assert seen == {"name": "llama_cpp.server", "run_name": "__main__", "argv": ["llamacpp_server", "--model", "m.gguf",
                                                                                 "--port", "8000"], "repack": False}
    assert llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts is True  # restored
