"""The base of the HTTP edge's request models: unknown fields are accepted (and logged by name,
never by value, by the edge), as OpenAI's and Azure's clients send fields a version may not know."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow")
