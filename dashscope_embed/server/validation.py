"""Request checks shared by the endpoints, with the real service's error codes and messages.

Limits come from the shared catalog (``dashscope_embed.catalog``); messages follow what DashScope answers where it
is known (Model Studio "Error messages" page, https://help.aliyun.com/en/model-studio/error-code, and replies
observed from the live service and quoted in public bug reports):

- ``BadRequest.EmptyInput`` "Required input parameter missing from request." (empty input, or an empty text)
- ``BadRequest.EmptyModel`` 'Required parameter "model" missing from request.'
- ``InvalidParameter`` "Model not exist." (unknown model)
- ``InvalidParameter`` "batch size is invalid, it should not be larger than 10.: input.contents" (too many rows)
- ``InvalidParameter`` "Range of input length should be [1, 8192]" (a row over the model's token limit)
- ``InvalidParameter`` "url error, please check url！" (a model sent to the other kind's endpoint)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from .. import tokens
from ..catalog import CATALOG, OUTPUT_TYPES, TEXT_TYPES, ModelSpec, get_model_spec
from ..errors import InvalidInputError
from .backends.base import CACHE_MAX_CHARS
from .replies import ServiceError

__all__ = [
    "COMPAT_PATH",
    "EMPTY_INPUT",
    "EMPTY_MODEL",
    "MODEL_NOT_EXIST",
    "MULTIMODAL_PATH",
    "TEXT_PATH",
    "ParsedTextRequest",
    "check_dimension",
    "check_texts",
    "lookup_model",
    "parse_body",
    "text_options",
    "token_count",
]

TEXT_PATH = "/api/v1/services/embeddings/text-embedding/text-embedding"
MULTIMODAL_PATH = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"
COMPAT_PATH = "/compatible-mode/v1/embeddings"
_PATH_OF_KIND = {"text": TEXT_PATH, "multimodal": MULTIMODAL_PATH}

EMPTY_INPUT = "Required input parameter missing from request."
EMPTY_MODEL = 'Required parameter "model" missing from request.'
MODEL_NOT_EXIST = "Model not exist."


def invalid(message: str, *, param: str | None = None) -> ServiceError:
    """A 400 ``InvalidParameter`` error."""
    return ServiceError(400, "InvalidParameter", message, param=param)


def empty_input(detail: str = "") -> ServiceError:
    """A 400 ``BadRequest.EmptyInput`` error (the documented message, plus where the empty input was)."""
    return ServiceError(400, "BadRequest.EmptyInput", EMPTY_INPUT + (f" ({detail})" if detail else ""), param="input")


@lru_cache(maxsize=16384)
def _cached_count(text: str) -> int:
    return tokens.count_tokens(text)


def token_count(text: str) -> int:
    """Qwen tokens in ``text`` (cached for short texts: benchmarks send the same texts again and again)."""
    if len(text) > CACHE_MAX_CHARS:
        return tokens.count_tokens(text)
    return _cached_count(text)


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body.

    Raises:
        ServiceError: 400 ``InvalidParameter`` when the body is not a JSON object.
    """
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return body


def lookup_model(
    model: Any, kind: str, *, unknown_status: int = 400, unknown_code: str = "InvalidParameter"
) -> ModelSpec:
    """The catalog entry of ``model`` for an endpoint serving ``kind`` (``"text"`` or ``"multimodal"``).

    Args:
        model: the request's ``model`` field.
        kind: what the endpoint serves.
        unknown_status / unknown_code: how an unknown model is answered. The native API answers 400
            ``InvalidParameter`` "Model not exist."; compatible mode answers 404 ``model_not_found`` with the same
            message (passed as ``ModelNotFound``).

    Raises:
        ServiceError: 400 ``BadRequest.EmptyModel`` (missing), "Model not exist." naming the model (unknown), or
            400 ``InvalidParameter`` "url error, please check url！" (a model of the other kind; the real service's
            words for a text model sent to the multimodal endpoint).
    """
    if model is None or model == "":
        raise ServiceError(400, "BadRequest.EmptyModel", EMPTY_MODEL, param="model")
    if not isinstance(model, str) or model not in CATALOG:
        known = ", ".join(sorted(n for n, s in CATALOG.items() if s.kind == kind))
        raise ServiceError(
            unknown_status,
            unknown_code,
            f"{MODEL_NOT_EXIST} Unknown model {model!r}; {kind} models here: {known}.",
            param="model",
        )
    spec = get_model_spec(model)
    if spec.kind != kind:
        raise invalid(
            f"url error, please check url！ {model} is a {spec.kind} embedding model; "
            f"send it to {_PATH_OF_KIND[spec.kind]}.",
            param="model",
        )
    return spec


def check_texts(texts: Any, spec: ModelSpec, *, where: str = "input.texts") -> tuple[list[str], list[int]]:
    """Validate a list of texts against ``spec``; return the texts and their Qwen token counts.

    Checks, in the order the real service reports them: presence, row count (``spec.max_rows``), type, empty or
    whitespace-only texts, tokens per row (``spec.max_tokens_per_row``), tokens per request
    (``spec.max_tokens_per_request``, where the model documents one).

    Raises:
        ServiceError: 400 ``BadRequest.EmptyInput`` or ``InvalidParameter`` with the real service's message.
    """
    if texts is None or (isinstance(texts, list) and not texts):
        raise empty_input(f"{where} is empty")
    if not isinstance(texts, list):
        raise invalid(f"{where} must be a string or a list of strings.", param="input")
    if len(texts) > spec.max_rows:
        raise batch_too_large(spec)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise invalid(f"{where}[{i}] must be a string, got {type(text).__name__}.", param="input")
        if not text.strip():
            raise empty_input(f"{where}[{i}] is empty or whitespace")
    counts = [token_count(t) for t in texts]
    limit = spec.max_tokens_per_row
    if limit is not None:
        for count in counts:
            if count > limit:
                raise length_out_of_range(limit)
    budget = spec.max_tokens_per_request
    if budget is not None and sum(counts) > budget:
        raise invalid(f"Range of total input length should be [1, {budget}], got {sum(counts)}", param="input")
    return texts, counts


def batch_too_large(spec: ModelSpec) -> ServiceError:
    """400 ``InvalidParameter`` "batch size is invalid, it should not be larger than N.: input.contents"."""
    return invalid(f"batch size is invalid, it should not be larger than {spec.max_rows}.: input.contents")


def length_out_of_range(limit: int) -> ServiceError:
    """400 ``InvalidParameter`` "Range of input length should be [1, N]"."""
    return invalid(f"Range of input length should be [1, {limit}]", param="input")


def check_dimension(spec: ModelSpec, dimension: Any, *, field: str = "dimension") -> int:
    """The output dimension for ``dimension`` (``None``: the model's default), via ``ModelSpec.check_dimension``.

    Raises:
        ServiceError: 400 ``InvalidParameter`` listing the allowed dimensions.
    """
    try:
        return spec.check_dimension(dimension)
    except InvalidInputError as exc:
        raise invalid(f"Invalid {field}: {exc}", param=field) from None


@dataclass(frozen=True)
class ParsedTextRequest:
    """A validated text embedding request.

    Attributes:
        spec: the model.
        texts: the texts, in request order.
        token_counts: Qwen tokens per text (``usage`` sums them).
        dimension: output dimension.
        text_type: ``"query"`` or ``"document"``.
        instruct: the query-side instruction, or ``None``.
        dense: whether dense vectors are returned.
        sparse: whether sparse vectors are returned.
    """

    spec: ModelSpec
    texts: list[str]
    token_counts: list[int]
    dimension: int
    text_type: str = "document"
    instruct: str | None = None
    dense: bool = True
    sparse: bool = False


def text_options(spec: ModelSpec, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the native ``parameters`` of a text request: ``dimension``, ``text_type``, ``output_type``,
    ``instruct``. Unknown keys are ignored, as the real service ignores them.

    Returns:
        keyword arguments for ``ParsedTextRequest`` (``dimension``, ``text_type``, ``instruct``, ``dense``, ``sparse``).

    Raises:
        ServiceError: 400 ``InvalidParameter`` naming the parameter and the accepted values.
    """
    dimension = check_dimension(spec, parameters.get("dimension"))
    text_type = parameters.get("text_type")
    if text_type is None:
        text_type = "document"
    elif text_type not in TEXT_TYPES:
        raise invalid(
            f"Invalid text_type {text_type!r}: it should be one of {', '.join(TEXT_TYPES)}.", param="text_type"
        )
    output_type = parameters.get("output_type")
    if output_type is None:
        output_type = "dense"
    elif output_type not in OUTPUT_TYPES:
        raise invalid(
            f"Invalid output_type {output_type!r}: it should be one of {', '.join(OUTPUT_TYPES)}.",
            param="output_type",
        )
    if output_type != "dense" and not spec.sparse:
        raise invalid(
            f"output_type {output_type!r} is not supported by {spec.name}: it returns dense vectors only.",
            param="output_type",
        )
    instruct = parameters.get("instruct")
    if instruct is not None and instruct != "":
        if not spec.instruct:
            raise invalid(f"instruct is not supported by {spec.name}.", param="instruct")
        if not isinstance(instruct, str):
            raise invalid("instruct must be a string.", param="instruct")
    else:
        instruct = None
    return {
        "dimension": dimension,
        "text_type": text_type,
        "instruct": instruct,
        "dense": output_type != "sparse",
        "sparse": output_type != "dense",
    }
