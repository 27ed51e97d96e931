"""Renderers: plans to command batches (`commands`), to text (`human`), to JSON (`json`)."""
