"""The LLM proposer: client (retries, accounting), prompts, code extraction, evolution, the loop."""
