"""What retrieval does with a grounding request: find documents, cite them, augment the prompt."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from contracts.common import ApiError, ChatMessage, Citation
from contracts.gateway_replies import GroundingFound, RequestFailed
from contracts.grounding_requests import GroundingRequested, MongoDataSource
from contracts.prompt_submissions import PromptSubmitted
from services.retrieval.errors import DataSourceUnavailable
from services.retrieval.ports import CustomerDocuments, PromptSubmissions, Replies
from services.retrieval.ranking import RankedDocument, query_terms, rank

log = logging.getLogger("residency.retrieval.handlers")


@dataclass(frozen=True)
class RetrievalPorts:
    documents: CustomerDocuments
    submissions: PromptSubmissions
    replies: Replies
    max_candidates: int


def citation_of(ranked: RankedDocument, source: MongoDataSource) -> Citation:
    doc = ranked.document

    def field(name: str | None) -> str | None:
        return str(doc[name]) if name and doc.get(name) is not None else None

    return Citation(content=ranked.text, title=field(source.title_field), url=field(source.url_field),
                    filepath=field(source.filepath_field), chunk_id=str(doc.get("_id")))


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


def augment(messages: list[ChatMessage], grounding: ChatMessage) -> list[ChatMessage]:
    """Insert the grounding after the caller's leading system messages."""
    at = next((i for i, m in enumerate(messages) if m.role != "system"), len(messages))
    return [*messages[:at], grounding, *messages[at:]]


async def ground_request(request: GroundingRequested, ports: RetrievalPorts) -> None:
    source = request.data_source
    question = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    terms = query_terms(question)
    try:
        candidates = await ports.documents.candidates(source, terms, ports.max_candidates)
    except DataSourceUnavailable as unavailable:
        log.info("request %s: data source unavailable (%s)", request.request_id, unavailable)
        await ports.replies.publish(RequestFailed(**request.envelope(), error=ApiError(
            status=400, type="invalid_request_error", code="data_source_unavailable", param="data_sources",
            message="The data source could not be reached or read with the given parameters.")))
        return
    ranked = rank(candidates, terms, source.content_fields,
                  strictness=source.strictness, top_n=source.top_n_documents)
    citations = [citation_of(r, source) for r in ranked]
    log.info("request %s grounded on %d of %d candidates", request.request_id, len(citations), len(candidates))
    await ports.replies.publish(GroundingFound(**request.envelope(), citations=citations, intent=" ".join(terms)))
    await ports.submissions.publish(PromptSubmitted(
        **request.envelope(), model=request.model,
        messages=augment(request.messages, grounding_message(citations, in_scope=source.in_scope)),
        sampling=request.sampling, stream=request.stream, end_user=request.end_user, adapter=request.adapter,
        documents=[c.content for c in citations]))
