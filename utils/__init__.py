"""Library code behind the command-line scripts of the GGUF sentiment harness."""
