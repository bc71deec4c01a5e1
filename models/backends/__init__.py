"""Backend kinds, one file each: `transformers`, `openai`, `vllm`, `scripted`."""
