"""What retrieval does with a grounding request: find documents, cite them, augment the prompt."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from contracts.common import ApiError, ChatMessage, Citation
from contracts.gateway_replies import GroundingFound, RequestFailed
from contracts.grounding_requests_v2 import ConnectionDataSource, GroundingRequested
from contracts.prompt_submissions import PromptSubmitted
from services.connections.errors import ConnectionRefused
from services.retrieval.errors import CredentialsUnreadable, DataSourceUnavailable
from services.retrieval.ports import Connections, CustomerDocuments, PromptSubmissions, Replies
from services.retrieval.ranking import RankedDocument, query_terms, rank

log = logging.getLogger("residency.retrieval.handlers")


@dataclass(frozen=True)
class RetrievalPorts:
    connections: Connections
    documents: CustomerDocuments
    submissions: PromptSubmissions
    replies: Replies
    max_candidates: int
    deadline_s: float  # the longest a request may spend reading the customer's store


def citation_of(ranked: RankedDocument, source: ConnectionDataSource) -> Citation:
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


def _failure(request: GroundingRequested, status: int, code: str, message: str) -> RequestFailed:
    error_type = "invalid_request_error" if status < 500 else "server_error"
    return RequestFailed(**request.envelope(), error=ApiError(status=status, type=error_type, code=code,
                                                              param="data_sources", message=message))


async def _read_candidates(request: GroundingRequested, terms: list[str],
                           ports: RetrievalPorts) -> list[dict] | RequestFailed:
    """The candidate documents, or the failure to answer with; the customer's side is never retried."""
    source = request.data_source
    connection = await ports.connections.get(request.resource_id, source.connection)
    if connection is None or connection.database != source.database_name:
        return _failure(request, 400, "data_source_not_registered",
                        "The data connection is not registered for this resource.")
    try:
        async with asyncio.timeout(ports.deadline_s):
            return await ports.documents.candidates(connection, source, terms, ports.max_candidates)
    except ConnectionRefused as refused:
        log.info("request %s: data source refused (%s)", request.request_id, refused.code)
        return _failure(request, 400, refused.code, refused.message)
    except DataSourceUnavailable as unavailable:
        log.info("request %s: data source unavailable (%s)", request.request_id, unavailable)
        return _failure(request, 400, "data_source_unavailable",
                        "The data source could not be reached or read with the given parameters.")
    except TimeoutError:
        log.info("request %s: data source did not answer within %g s", request.request_id, ports.deadline_s)
        return _failure(request, 400, "data_source_timeout",
                        f"The data source did not answer within {ports.deadline_s:g} s.")
    except CredentialsUnreadable:
        log.warning("request %s: credentials of connection %s do not open", request.request_id, source.connection)
        return _failure(request, 503, "data_connection_unreadable",
                        "The data connection's credentials cannot be opened in this region; register it again.")


async def ground_request(request: GroundingRequested, ports: RetrievalPorts) -> None:
    source = request.data_source
    question = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    terms = query_terms(question)
    candidates = await _read_candidates(request, terms, ports)
    if isinstance(candidates, RequestFailed):
        await ports.replies.publish(candidates)
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
