"""The converter cache: only the converter's files are unpacked from the sdist, and a finished cache is reused."""

from __future__ import annotations

import io
import tarfile

import pytest

from training.converter import ConverterError, _extract, ensure_converter


def fake_sdist(path, names):
    with tarfile.open(path, "w:gz") as archive:
        for name in names:
            data = f"# {name}\n".encode()
            info = tarfile.TarInfo(f"llama_cpp_python-0.3.36/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_only_the_converter_files_are_unpacked(tmp_path):
    sdist = fake_sdist(tmp_path / "s.tar.gz", [
        "vendor/llama.cpp/convert_hf_to_gguf.py", "vendor/llama.cpp/conversion/llama.py",
        "vendor/llama.cpp/gguf-py/gguf/gguf_writer.py", "vendor/llama.cpp/gguf-py/tests/test_quants.py",
        "vendor/llama.cpp/src/llama.cpp", "vendor/llama.cpp/convert_lora_to_gguf.py", "llama_cpp/llama.py",
        "vendor/llama.cpp/LICENSE",
    ])
    count = _extract(sdist, tmp_path / "out")
    found = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert found == ["LICENSE", "conversion/llama.py", "convert_hf_to_gguf.py", "gguf-py/gguf/gguf_writer.py"]
    assert count == 4


def test_an_sdist_without_the_converter_is_refused(tmp_path):
    sdist = fake_sdist(tmp_path / "s.tar.gz", ["vendor/llama.cpp/src/llama.cpp"])
    with pytest.raises(ConverterError, match="has no vendor/llama.cpp/convert_hf_to_gguf.py"):
        _extract(sdist, tmp_path / "out")


def test_a_finished_cache_is_used_without_downloading(tmp_path):
    (tmp_path / ".complete").write_text("done")

    def no_download(folder):
        raise AssertionError("must not download")

    assert ensure_converter(tmp_path, download=no_download) == tmp_path


def test_a_half_unpacked_cache_is_fetched_again(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "convert_hf_to_gguf.py").write_text("partial")  # no completion marker
    def download(folder):
        return fake_sdist(folder / "llama_cpp_python-0.3.36.tar.gz", ["vendor/llama.cpp/convert_hf_to_gguf.py"])

    assert ensure_converter(cache, download=download) == cache
    assert (cache / ".complete").is_file()
    assert (cache / "convert_hf_to_gguf.py").read_text() == "# vendor/llama.cpp/convert_hf_to_gguf.py\n"
