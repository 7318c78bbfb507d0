"""The README's demo: a resource with one deployment, then requests through the running stack.

Uses the official openai SDK exactly as a user's code would, against both gateway replicas.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
from openai import AzureOpenAI, OpenAI

ROOT = Path(__file__).resolve().parents[2]
INSTANCE = os.environ.get("RESIDENCY_INFRA_INSTANCE", "demo")
GATEWAYS = ["http://127.0.0.1:8080", "http://127.0.0.1:8081"]
ADMIN_API = "http://127.0.0.1:8090"  # the first gateway's admin listener (deploy/local/stack.py)
RESOURCE = {"resource_id": "demo", "region": os.environ.get("RESIDENCY_REGION", "eu-west"),
            "deployments": [{"name": "chat", "model": "smollm2-135m-instruct"}]}


def admin_key() -> str:
    values = dict(line.split("=", 1) for line in (ROOT / ".data" / INSTANCE / "secrets.env").read_text().split())
    return values["ADMIN_KEY"]


def demo_key() -> str:
    """Create the demo resource, or give it a fresh key1 if it exists (keys are shown only once)."""
    admin = httpx.Client(base_url=ADMIN_API, headers={"authorization": f"Bearer {admin_key()}"})
    created = admin.post("/admin/resources", json=RESOURCE)
    if created.status_code == 201:
        return created.json()["keys"]["key1"]
    if created.status_code != 409:
        sys.exit(f"creating the demo resource failed: {created.status_code} {created.text}")
    regenerated = admin.post("/admin/resources/demo/keys/key1/regenerate")
    regenerated.raise_for_status()
    return regenerated.json()["key1"]


def main() -> None:
    key = demo_key()
    question = [{"role": "system", "content": "You are a concise assistant."},
                {"role": "user", "content": "What is the capital of France?"}]

    azure = AzureOpenAI(azure_endpoint=GATEWAYS[0], api_key=key, api_version="2024-10-21")
    raw = azure.chat.completions.with_raw_response.create(model="chat", messages=question, max_tokens=40,
                                                          temperature=0)
    answer = raw.parse()
    print(f"AzureOpenAI via {GATEWAYS[0]} (request {raw.headers['x-request-id']}):")
    print(f"  {answer.choices[0].message.content!r}  finish_reason={answer.choices[0].finish_reason} "
          f"usage={answer.usage.total_tokens} tokens")
    screened = answer.model_extra.get("prompt_filter_results", [{}])[0].get("content_filter_results", {})
    print("  prompt screened: " + ", ".join(f"{name}={result.get('severity', result.get('detected'))}"
                                           for name, result in screened.items()))

    openai = OpenAI(base_url=f"{GATEWAYS[1]}/v1", api_key=key)
    print(f"OpenAI via {GATEWAYS[1]}/v1, streamed:")
    print("  ", end="")
    for chunk in openai.chat.completions.create(model="chat", messages=question, stream=True, max_tokens=40,
                                                temperature=0):
        for choice in chunk.choices:
            print(choice.delta.content or "", end="", flush=True)
    print()

    print("\nTry it yourself:")
    print(f"  curl -s '{GATEWAYS[0]}/openai/deployments/chat/chat/completions?api-version=2024-10-21' \\\n"
          f"    -H 'api-key: {key}' -H 'content-type: application/json' \\\n"
          """    -d '{"messages":[{"role":"user","content":"Hello"}]}'""")
    print("  Stop everything with: ./deploy/local/just down")


if __name__ == "__main__":
    main()
