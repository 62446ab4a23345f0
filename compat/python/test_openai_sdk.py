"""The official `openai` Python package against daehwa's OpenAI-compatible
gateway: base_url = daehwa's /v1, api_key = a daehwa API key."""

import re

import openai
import pytest

# The fake LLM answers `Token0 Token1 …` (20 tokens unless told otherwise).
ANSWER = re.compile(r"^Token0( Token\d+)*$")


def test_the_models_list_has_the_connections_model(client: openai.OpenAI, model: str) -> None:
    ids = [m.id for m in client.models.list()]
    assert model in ids


def test_a_plain_completion(client: openai.OpenAI, model: str) -> None:
    completion = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "You are brief."},
            {"role": "user", "content": "Say something"},
        ],
    )
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert ANSWER.match(choice.message.content), choice.message.content
    assert choice.finish_reason == "stop"
    assert completion.model == model
    assert completion.usage is not None
    assert completion.usage.completion_tokens == len(choice.message.content.split())
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_a_streamed_completion(client: openai.OpenAI, model: str) -> None:
    plain = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Stream please"}]
    )
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Stream please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, finish, usage = [], [], None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish.append(choice.finish_reason)
    text = "".join(pieces)
    assert len(pieces) > 1, "the answer arrived in several chunks"
    assert text == plain.choices[0].message.content
    assert finish == ["stop"]
    assert usage is not None and usage.completion_tokens == len(text.split())


def test_a_bad_key_raises_authentication_error(daehwa_url: str, model: str) -> None:
    bad = openai.OpenAI(base_url=f"{daehwa_url}/v1", api_key="dk_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        bad.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == 401
    assert raised.value.code == "invalid_api_key"


def test_an_unknown_model_raises_not_found_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}]
        )
    assert raised.value.code == "model_not_found"


def test_a_bad_request_raises_bad_request_error(client: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=model, messages=[])
