"""llama-cpp-python's OpenAI-compatible server, loading models as the harness does.

``python -m utils.backends.llamacpp_server --model FILE ...`` takes ``python -m
llama_cpp.server``'s arguments and runs it with the harness's weight-repacking setting
(:func:`utils.backends.llamacpp.weight_repacking`): the server has no option for it, and on
an AMX build of llama.cpp the default dies on the first request (see that function).
"""

from __future__ import annotations

import runpy
import sys


def main(argv: list[str] | None = None) -> None:
    import llama_cpp

    from utils.backends.llamacpp import _extra_buffers, weight_repacking

    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    with _extra_buffers(llama_cpp, weight_repacking(llama_cpp)):
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
