"""Mapping of DashScope replies (both protocols) to typed errors."""

import pytest

from dashscope_embed import errors as E


@pytest.mark.parametrize(
    "status, body, cls",
    [
        (401, {"code": "InvalidApiKey", "message": "Invalid API-key provided."}, E.AuthenticationError),
        (403, {"code": "AccessDenied", "message": "no"}, E.PermissionDeniedError),
        (404, {"code": "ModelNotFound", "message": "no model"}, E.NotFoundError),
        (429, {"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded"}, E.RateLimitError),
        (429, {"code": "Throttling.AllocationQuota", "message": "tokens"}, E.RateLimitError),
        (400, {"code": "DataInspectionFailed", "message": "unsafe"}, E.ContentInspectionError),
        (400, {"code": "data_inspection_failed", "message": "unsafe"}, E.ContentInspectionError),
        (400, {"code": "InvalidParameter", "message": "Range of input length should be [1, 8192]"}, E.InvalidRequestError),
        (500, {"code": "InternalError", "message": "oops"}, E.ServerError),
        (503, {"code": "ModelServingError", "message": "busy"}, E.ServerError),
        (429, {"error": {"message": "Requests rate limit exceeded", "type": "x", "code": "limit_requests"}}, E.RateLimitError),
        (401, {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}}, E.AuthenticationError),
    ],
)
def test_classification(status, body, cls):
    err = E.error_from_reply(status, body, {"x-request-id": "hdr-id"})
    assert type(err) is cls
    assert err.status_code == status
    assert err.request_id == "hdr-id"
    assert err.retryable == (cls in E.RETRYABLE_ERRORS)


def test_batch_size_message_gives_the_limit():
    body = {
        "code": "InternalError.Algo.InvalidParameter",
        "message": "Value error, batch size is invalid, it should not be larger than 10.: input.contents",
        "request_id": "r1",
    }
    err = E.error_from_reply(400, body)
    assert isinstance(err, E.BatchSizeError) and err.limit == 10 and err.request_id == "r1"
    assert not err.retryable


@pytest.mark.parametrize(
    "headers, expected",
    [({"retry-after": "3"}, 3.0), ({"retry-after-ms": "250"}, 0.25), ({}, None), ({"retry-after": "soon"}, None)],
)
def test_retry_after(headers, expected):
    assert E.error_from_reply(429, {"code": "Throttling"}, headers).retry_after == expected


def test_message_without_body():
    err = E.error_from_reply(502, None, {}, text="upstream died")
    assert isinstance(err, E.ServerError) and err.message == "upstream died" and "HTTP 502" in str(err)


def test_input_error_is_a_value_error():
    assert issubclass(E.InvalidInputError, ValueError)


@pytest.mark.parametrize(
    "status, code, cls",
    [
        (200, "InternalError.Algo", E.ServerError),  # an HTTP 200 carrying the service's own failure: retried
        (200, "InternalError", E.ServerError),
        (500, "InternalError.Algo", E.ServerError),
        (400, "InternalError.Algo.InvalidParameter", E.InvalidRequestError),  # a bad request: never retried
    ],
)
def test_internal_error_codes(status, code, cls):
    err = E.error_from_reply(status, {"code": code, "message": "Embedding_pipeline_Error: x"})
    assert type(err) is cls
