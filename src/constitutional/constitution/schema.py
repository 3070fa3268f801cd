"""JSON Schema of constitution files, for editors that validate and autocomplete YAML/JSON."""

from __future__ import annotations

from constitutional.constitution.model import Constitution

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def constitution_schema() -> dict:
    schema = Constitution.model_json_schema()
    # The loader accepts `version: 2` and turns it into "2"; say so, or editors flag valid files.
    schema["properties"]["version"] = {**schema["properties"]["version"], "type": ["string", "number"]}
    return {"$schema": SCHEMA_DIALECT, **schema}
