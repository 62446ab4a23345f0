"""Fixtures for the OpenAI SDK tests: a running daehwa (DAEHWA_URL) with a
connection to a running fake LLM (FAKE_LLM_URL), an account and an API key.
Both processes are started by .ci/compat."""

import json
import os
import urllib.error
import urllib.request

import openai
import pytest


def call(method: str, url: str, body: dict | None = None, token: str | None = None):
    """One JSON request with the standard library: (status, parsed body)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


@pytest.fixture(scope="session")
def daehwa_url() -> str:
    return os.environ["DAEHWA_URL"].rstrip("/")


@pytest.fixture(scope="session")
def setup(daehwa_url: str) -> dict:
    fake = os.environ["FAKE_LLM_URL"].rstrip("/")
    api = f"{daehwa_url}/api/v1"
    account = {"username": "sdkadmin", "password": "sdk-password-42"}
    status, body = call("POST", f"{api}/auth/register", account)
    assert status in (201, 409), body
    status, body = call("POST", f"{api}/auth/login", account)
    assert status == 200, body
    token = body["access_token"]
    status, body = call("GET", f"{api}/admin/connections", token=token)
    assert status == 200, body
    connections = body["connections"]
    if not connections:
        connection = {"name": "fake", "kind": "openai", "base_url": f"{fake}/v1", "api_key": "k"}
        status, body = call("POST", f"{api}/admin/connections", connection, token)
        assert status == 201, body
        connections = [body]
    model = connections[0]["models"][0]["id"]
    status, body = call("POST", f"{api}/api-keys", {"client_name": "openai-python"}, token)
    assert status == 201, body
    return {"model": model, "key": body["api_key"]}


@pytest.fixture()
def client(daehwa_url: str, setup: dict) -> openai.OpenAI:
    # No retries: a test must see the first answer, not hide a failure.
    return openai.OpenAI(base_url=f"{daehwa_url}/v1", api_key=setup["key"], max_retries=0)


@pytest.fixture()
def model(setup: dict) -> str:
    return setup["model"]
