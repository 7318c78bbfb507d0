"""Topic ``{region}.tuning.model-deletions.v1``: the owner deleted a fine-tuned model.

The gateway hides the model's record first (no new request can use it from then on), then
publishes this. The tuning service (one group) destroys the adapter's data key, then its sealed
chunks and record; every inference replica (no group) removes the adapter's plaintext from its
in-memory folder and unloads it from vLLM. No customer content: IDs only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.base import Envelope, message_key

TOPIC = "{region}.tuning.model-deletions.v1"
key = message_key


class DeleteFineTunedModel(Envelope):
    """Shred and unload the resource's fine-tuned model."""

    kind: Literal["delete_model"] = Field("delete_model", description="Discriminator.")
    model: str = Field(min_length=1, max_length=128, description="The fine-tuned model, `<base>.ft-<id>`.")
