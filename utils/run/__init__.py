"""One benchmark run: the items it reads, the prompts, the answers, the loop and the result files."""
