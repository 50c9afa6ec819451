"""Fine-tuning pipeline: dataset, LoRA fine-tune, GGUF export, Modelfiles, Ollama registration."""
