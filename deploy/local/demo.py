"""The README's demo: a resource with one deployment, then requests through the running stack.

Uses the official openai SDK exactly as a user's code would, against both gateway replicas.
Another stack (compose, `just compose-check`) is named by RESIDENCY_DEMO_GATEWAYS (two URLs,
comma-separated), RESIDENCY_DEMO_CUSTOMER_STORE (the tenant store's URI as the stack reaches it) and
RESIDENCY_ADMIN_KEY; by default the local stack's addresses and .data/<instance>/secrets.env are used.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx
from openai import AzureOpenAI, OpenAI
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parents[2]
INSTANCE = os.environ.get("RESIDENCY_INFRA_INSTANCE", "demo")
GATEWAYS = os.environ.get("RESIDENCY_DEMO_GATEWAYS", "http://127.0.0.1:8080,http://127.0.0.1:8081").split(",")
CUSTOMER_STORE = os.environ.get(
    "RESIDENCY_DEMO_CUSTOMER_STORE", f"mongodb://127.0.0.1:{os.environ.get('RESIDENCY_CUSTOMER_MONGO_PORT', '27018')}/")
ADMIN_API = os.environ.get("RESIDENCY_DEMO_ADMIN", "http://127.0.0.1:8090")  # the first gateway's admin listener
RESOURCE = {"resource_id": "demo", "region": os.environ.get("RESIDENCY_REGION", "eu-west"),
            "deployments": [{"name": "chat", "model": "smollm2-135m-instruct"}]}


def admin_key() -> str:
    if key := os.environ.get("RESIDENCY_ADMIN_KEY"):
        return key
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


def grounded_demo(key: str) -> None:
    """On your data: the demo tenant's own store (a second FerretDB, never the platform's), registered
    as a data connection of the resource, then asked through Azure's request shape."""
    with MongoClient(CUSTOMER_STORE) as customer:
        customer["demo_kb"]["articles"].replace_one({"_id": "kb-1"}, {
            "_id": "kb-1", "title": "Opening hours",
            "content": "The Residency demo shop is open from 9:00 to 17:00, Monday to Friday."}, upsert=True)
    admin = httpx.Client(base_url=ADMIN_API, headers={"authorization": f"Bearer {admin_key()}"})
    registered = admin.post("/admin/resources/demo/data-connections",
                            json={"name": "kb", "endpoint": CUSTOMER_STORE, "database_name": "demo_kb"})
    if registered.status_code not in (201, 409):
        sys.exit(f"registering the demo data connection failed: {registered.status_code} {registered.text}")
    azure = AzureOpenAI(azure_endpoint=GATEWAYS[0], api_key=key, api_version="2024-10-21")
    answer = azure.chat.completions.create(
        model="chat", max_tokens=40, temperature=0,
        messages=[{"role": "user", "content": "When is the demo shop open?"}],
        extra_body={"data_sources": [{"type": "mongo_db", "parameters": {
            "endpoint": CUSTOMER_STORE, "database_name": "demo_kb", "collection_name": "articles",
            "fields_mapping": {"content_fields": ["content"], "title_field": "title"}}}]})
    citations = answer.choices[0].message.model_extra["context"]["citations"]
    print("On your data (data connection 'kb' to the customer store):")
    print(f"  {answer.choices[0].message.content!r}")
    print("  cited: " + ", ".join(f"{c['chunk_id']} ({c['title']})" for c in citations))


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
    grounded_demo(key)

    print("\nTry it yourself:")
    print(f"  curl -s '{GATEWAYS[0]}/openai/deployments/chat/chat/completions?api-version=2024-10-21' \\\n"
          f"    -H 'api-key: {key}' -H 'content-type: application/json' \\\n"
          """    -d '{"messages":[{"role":"user","content":"Hello"}]}'""")
    if "RESIDENCY_DEMO_GATEWAYS" not in os.environ:
        print("  Stop everything with: ./deploy/local/just down")


if __name__ == "__main__":
    main()
