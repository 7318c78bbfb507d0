"""What the model is given: the cited documents as a system message, and the in-scope rule."""

from __future__ import annotations

from contracts.common import ChatMessage, Citation
from contracts.grounding_requests_v2 import ConnectionDataSource
from services.retrieval.search import Retrieved

# Azure's answer when an in-scope request finds nothing relevant; no model is called for it.
NOT_FOUND_ANSWER = ("The requested information is not available in the retrieved data. "
                    "Please try another query or topic.")


def citation_of(retrieved: Retrieved, source: ConnectionDataSource) -> Citation:
    doc = retrieved.document

    def field(name: str | None) -> str | None:
        return str(doc[name]) if name and doc.get(name) is not None else None

    return Citation(content=retrieved.text, title=field(source.title_field), url=field(source.url_field),
                    filepath=field(source.filepath_field), chunk_id=retrieved.key)


def grounding_message(citations: list[Citation], *, in_scope: bool) -> ChatMessage:
    rules = ["Answer the user's question using the documents below and cite them as [doc1], [doc2], ..."]
    if in_scope:
        rules.append("If the documents do not contain the answer, say that the requested information "
                     "is not available in the retrieved data.")
    parts = [" ".join(rules)]
    for number, citation in enumerate(citations, start=1):
        title = f" {citation.title}" if citation.title else ""
        parts.append(f"[doc{number}]{title}\n{citation.content}")
    return ChatMessage(role="system", content="\n\n".join(parts))


def grounding_position(messages: list[ChatMessage]) -> int:
    """Where the grounding goes: after the caller's leading system messages."""
    return next((i for i, m in enumerate(messages) if m.role != "system"), len(messages))


def augment(messages: list[ChatMessage], grounding: ChatMessage) -> list[ChatMessage]:
    at = grounding_position(messages)
    return [*messages[:at], grounding, *messages[at:]]
