"""llama.cpp's tools: the build refuses a wrong sdist, a finished cache is used as it is, and the
benchmark tools' output (captured from the real programs built from the pinned sdist) is read right."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from training.converter import ConverterError
from training.llama_tools import (
    BENCH_TOOLS, TOOLS, ToolsError, default_tools_cache, ensure_tools, parse_batched_bench, parse_llama_bench,
)

FIXTURES = Path(__file__).parent / "fixtures"


def sdist_with(path: Path, names: list[str]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name in names:
            data = b"# source\n"
            info = tarfile.TarInfo(f"llama_cpp_python-0.3.36/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def compilers(monkeypatch):
    """cmake and c++ count as installed (nothing here gets as far as running them)."""
    monkeypatch.setattr("training.llama_tools.shutil.which", lambda name: f"/usr/bin/{name}")


def test_a_cache_holding_the_needed_tools_is_used_without_building(tmp_path, compilers):
    for tool in BENCH_TOOLS:
        (tmp_path / tool).write_text("#!/bin/sh\n")

    def no_download(folder):
        raise AssertionError("must not download")

    assert ensure_tools(tmp_path, download=no_download, needed=BENCH_TOOLS) == tmp_path
    with pytest.raises(AssertionError, match="must not download"):  # the export tools are missing: a build
        ensure_tools(tmp_path, download=no_download)
    assert set(TOOLS) >= set(BENCH_TOOLS)


def test_the_build_refuses_an_sdist_that_is_not_the_pinned_one(tmp_path, compilers):
    fake = sdist_with(tmp_path / "fake.tar.gz", ["vendor/llama.cpp/CMakeLists.txt"])
    with pytest.raises(ConverterError, match="is not the pinned llama-cpp-python"):
        ensure_tools(tmp_path / "cache", download=lambda folder: fake)
    assert not (tmp_path / "cache").exists()


def test_a_build_with_cmake_args_gets_a_cache_of_its_own(monkeypatch):
    monkeypatch.delenv("CMAKE_ARGS", raising=False)
    cpu = default_tools_cache()
    monkeypatch.setenv("CMAKE_ARGS", "-DGGML_CUDA=on")
    cuda = default_tools_cache()
    assert cuda != cpu and cuda.name.startswith(cpu.name + "-")


def test_llama_bench_jsonl_is_read():
    """Captured from ``llama-bench -p 32 -n 0 -d 64 -t 2 -r 2 -fa 0 -o jsonl`` (SmolLM2 Q4_1, busy machine)."""
    (result,) = parse_llama_bench((FIXTURES / "llama_bench.jsonl").read_text())
    assert (result.n_prompt, result.n_gen, result.n_depth, result.n_threads) == (32, 0, 64, 2)
    assert result.samples == (53.8662, 76.6538)
    assert result.mean_tokens_per_s == pytest.approx(65.259987)
    assert result.sd_tokens_per_s == pytest.approx(16.113219)


def test_llama_batched_bench_jsonl_is_read_among_its_log_lines():
    """Captured from ``llama-batched-bench -npp 64 -ntg 8 -npl 1,2 -pps -kvu --output-format jsonl``."""
    rows = parse_batched_bench((FIXTURES / "llama_batched_bench.jsonl").read_text())
    assert [(r.n_prompt, r.n_gen, r.sequences, r.shared_prompt) for r in rows] == [(64, 8, 1, True), (64, 8, 2, True)]
    assert rows[1].decode_tokens_per_s == pytest.approx(29.211687)
    assert rows[1].decode_tokens_per_s == pytest.approx(2 * 8 / rows[1].decode_s, rel=1e-4)
    assert rows[0].prefill_tokens_per_s == pytest.approx(83.685295)


@pytest.mark.parametrize("parse", [parse_llama_bench, parse_batched_bench])
def test_output_without_a_result_is_an_error(parse):
    with pytest.raises(ToolsError, match="printed no result"):
        parse("error: failed to load model\n{not json}\n")


@pytest.mark.parametrize("repack", [True, False])
def test_the_tools_run_with_the_harness_repacking_setting(monkeypatch, tmp_path, repack):
    """llama-bench gets ``--repack 0|1`` and llama-batched-bench ``--no-repack`` when off, as the
    harness loads the model (an AMX build of llama.cpp crashes with repacking on)."""
    from training import llama_tools

    commands: list[list[str]] = []
    bench = '{"n_prompt": 8, "n_gen": 0, "n_depth": 0, "n_threads": 2, "avg_ts": 10.0, "stddev_ts": 1.0}'
    batched = ('{"pp": 8, "tg": 4, "pl": 2, "is_pp_shared": true, "speed_pp": 1.0, "speed_tg": 2.0,'
               ' "speed": 3.0, "t_pp": 1.0, "t_tg": 1.0}')
    monkeypatch.setattr(llama_tools, "_run", lambda command, what: commands.append(list(command))
                        or (batched if "batched" in command[0] else bench))
    llama_tools.run_llama_bench(tmp_path, tmp_path / "m.gguf", n_prompt=8, threads=2, repack=repack)
    llama_tools.run_batched_bench(tmp_path, tmp_path / "m.gguf", n_prompt=8, n_gen=4, sequences=[2], threads=2,
                                  repack=repack)
    bench_command, batched_command = commands
    assert bench_command[bench_command.index("--repack") + 1] == ("1" if repack else "0")
    assert ("--no-repack" in batched_command) is not repack
