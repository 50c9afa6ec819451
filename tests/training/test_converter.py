"""The converter cache: only the converter's files are unpacked from the sdist, a finished cache
is reused, and nothing is unpacked from an sdist that is not the pinned one or that would
write outside the target folder."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from training.converter import (
    LLAMA_CPP_PYTHON_SDIST_SHA256, ConverterError, _extract, check_sdist, ensure_converter, unpack_vendored,
)


def fake_sdist(path, names, top="llama_cpp_python-0.3.36/"):
    with tarfile.open(path, "w:gz") as archive:
        for name in names:
            data = f"# {name}\n".encode()
            info = tarfile.TarInfo(f"{top}{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_only_the_converter_files_are_unpacked(tmp_path):
    sdist = fake_sdist(tmp_path / "s.tar.gz", [
        "vendor/llama.cpp/convert_hf_to_gguf.py", "vendor/llama.cpp/conversion/llama.py",
        "vendor/llama.cpp/gguf-py/gguf/gguf_writer.py", "vendor/llama.cpp/gguf-py/tests/test_quants.py",
        "vendor/llama.cpp/src/llama.cpp", "vendor/llama.cpp/convert_lora_to_gguf.py", "llama_cpp/llama.py",
        "vendor/llama.cpp/LICENSE",
    ])
    count = _extract(sdist, tmp_path / "out", sha256(sdist))
    found = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert found == ["LICENSE", "conversion/llama.py", "convert_hf_to_gguf.py", "gguf-py/gguf/gguf_writer.py"]
    assert count == 4


def test_an_sdist_without_the_converter_is_refused(tmp_path):
    sdist = fake_sdist(tmp_path / "s.tar.gz", ["vendor/llama.cpp/src/llama.cpp"])
    with pytest.raises(ConverterError, match="has no vendor/llama.cpp/convert_hf_to_gguf.py"):
        _extract(sdist, tmp_path / "out", sha256(sdist))


def test_a_finished_cache_is_used_without_downloading(tmp_path):
    (tmp_path / ".complete").write_text("done")

    def no_download(folder):
        raise AssertionError("must not download")

    assert ensure_converter(tmp_path, download=no_download) == tmp_path


def test_a_half_unpacked_cache_is_fetched_again(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "convert_hf_to_gguf.py").write_text("partial")  # no completion marker
    fake = fake_sdist(tmp_path / "fake.tar.gz", ["vendor/llama.cpp/convert_hf_to_gguf.py"])
    def download(folder):
        return fake

    assert ensure_converter(cache, download=download, sha256=sha256(fake)) == cache
    assert (cache / ".complete").is_file()
    assert (cache / "convert_hf_to_gguf.py").read_text() == "# vendor/llama.cpp/convert_hf_to_gguf.py\n"


def test_an_sdist_other_than_the_pinned_one_is_refused_before_anything_is_unpacked(tmp_path):
    sdist = fake_sdist(tmp_path / "s.tar.gz", ["vendor/llama.cpp/convert_hf_to_gguf.py"])
    with pytest.raises(ConverterError, match="is not the pinned llama-cpp-python 0.3.36 sdist"):
        ensure_converter(tmp_path / "cache", download=lambda folder: sdist)  # the real pin
    assert not (tmp_path / "cache").exists()
    with pytest.raises(ConverterError, match=f"expected {LLAMA_CPP_PYTHON_SDIST_SHA256}"):
        unpack_vendored(sdist, tmp_path / "out", lambda relative: True)
    assert not (tmp_path / "out").exists()
    check_sdist(sdist, sha256(sdist).upper())  # the same file under its own hash passes


@pytest.mark.parametrize("member", [
    "vendor/llama.cpp/../../../escaped.py",          # climbs out of the target
    "vendor/llama.cpp/conversion/../../../escaped.py",
    "vendor/llama.cpp//tmp/escaped.py",                  # an absolute path once the prefix is cut
])
def test_a_member_leaving_the_target_folder_refuses_the_archive(tmp_path, member):
    target = tmp_path / "deep" / "out"
    sdist = fake_sdist(tmp_path / "s.tar.gz", ["vendor/llama.cpp/convert_hf_to_gguf.py", member])
    with pytest.raises(ConverterError, match="would be written outside"):
        unpack_vendored(sdist, target, lambda relative: True, sha256(sdist))
    assert not list(tmp_path.rglob("escaped.py"))
    assert not target.exists()  # not even the harmless member was written
