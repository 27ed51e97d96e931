"""The experiment spec: value types, pydantic models, YAML loading with locations, schema."""
