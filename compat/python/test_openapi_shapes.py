"""Every answer shape of the conversation routes, checked against the OpenAPI
document with Schemathesis's own response validation. Its fuzzing reaches the
streamed and first-exchange answers only by chance (a `stream: true` with a
real model id); these calls reach each of them every run."""

import time

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from conftest import call

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def api(daehwa_url: str) -> str:
    return f"{daehwa_url}/api/v1"


@pytest.fixture(scope="module")
def schema(api: str):
    return schemathesis.openapi.from_url(f"{api}/openapi.json")


@pytest.fixture(scope="module")
def token(api: str, setup: dict) -> str:
    account = {"username": "shapes", "password": "shapes-password-42"}
    status, body = call("POST", f"{api}/auth/register", account)
    assert status in (201, 409), body
    status, body = call("POST", f"{api}/auth/login", account)
    assert status == 200, body
    return body["access_token"]


def checked(schema, api: str, token: str, method: str, path: str, expected: int, **case):
    """Sends one request built from `case` to the native API's `path`, checks
    its answer against the document, and returns it. The document's paths
    start at the deployment's root (`/api/v1/...`, beside the compatible
    APIs' `/v1/...` and `/simple/...`)."""
    operation = schema[f"/api/v1{path}"][method]
    made = operation.Case(**case)
    root = api.removesuffix("/api/v1")
    response = made.call(base_url=root, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == expected, response.text
    made.validate_response(response, checks=CHECKS)
    return response


def answered(api: str, token: str, conversation: str) -> None:
    """Waits (at most 10 s) until no answer of the conversation is still being
    written: Schemathesis reads a streamed reply's first events only, and the
    next turn is refused (409) while the answer goes on."""
    for _ in range(200):
        status, body = call("GET", f"{api}/conversations/{conversation}", token=token)
        assert status == 200, body
        if all(m["status"] != "streaming" for m in body["messages"]):
            return
        time.sleep(0.05)
    raise AssertionError(f"conversation {conversation} still answering after 10 s")


def new_conversation(schema, api, token) -> str:
    res = checked(schema, api, token, "POST", "/conversations", 201, body={"title": "shapes"})
    return res.json()["id"]


def test_a_new_conversation_and_a_first_exchange(schema, api, token, setup):
    model = setup["model"]
    new_conversation(schema, api, token)
    res = checked(schema, api, token, "POST", "/conversations", 201,
                  body={"model_id": model, "message": "hello"})
    assert res.json()["message"]["status"] == "complete"
    res = checked(schema, api, token, "POST", "/conversations", 200,
                  body={"model_id": model, "message": "hello", "stream": True})
    # Schemathesis reads a stream's first events only, and checks each of them.
    assert res.text.startswith("event:message"), res.text[:200]


@pytest.mark.parametrize("stream", [False, True])
def test_ask_edit_and_regenerate(schema, api, token, setup, stream):
    model = setup["model"]
    conversation = new_conversation(schema, api, token)
    expected = 200 if stream else 201
    ask = {"model_id": model, "content": "안녕하세요", "stream": stream}
    checked(schema, api, token, "POST", "/conversations/{id}/messages", expected,
            path_parameters={"id": conversation}, body=ask)
    answered(api, token, conversation)
    checked(schema, api, token, "PATCH", "/conversations/{id}/messages/last", expected,
            path_parameters={"id": conversation}, body={**ask, "content": "다시"})
    answered(api, token, conversation)
    checked(schema, api, token, "POST", "/conversations/{id}/regenerate", expected,
            path_parameters={"id": conversation}, body={"model_id": model, "stream": stream})
    answered(api, token, conversation)
    checked(schema, api, token, "GET", "/conversations/{id}", 200,
            path_parameters={"id": conversation})
    checked(schema, api, token, "GET", "/conversations/{id}/messages", 200,
            path_parameters={"id": conversation})
