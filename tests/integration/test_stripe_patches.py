"""What lending_stripe changes of the stripe library's private parts, checked against the installed
library: if the library stops calling what we replaced, these fail, rather than the change silently
doing nothing (or the wrong thing)."""

from __future__ import annotations

import inspect
import os

import pytest
import stripe._api_requestor as requestor

import lending_stripe.gateway as gateway

LIBRARY_AI_AGENT_PROBE = requestor._APIRequestor.AI_AGENTS


def test_the_library_finds_the_ai_agent_through_the_function_we_replaced() -> None:
    assert "self._detect_ai_agent(os.environ)" in inspect.getsource(requestor._APIRequestor.request_headers)
    assert requestor._APIRequestor._detect_ai_agent is gateway._ai_agent


def test_the_ai_agent_is_read_from_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    variable, agent = LIBRARY_AI_AGENT_PROBE[0]
    at_start_up = requestor._APIRequestor._detect_ai_agent(os.environ)
    monkeypatch.setenv(variable, "1")
    assert requestor._APIRequestor._detect_ai_agent(os.environ) == at_start_up  # as at start-up
    assert requestor._APIRequestor._detect_ai_agent({variable: "1"}) == agent  # any other mapping: as the library
    assert requestor._APIRequestor._detect_ai_agent({}) == ""


def test_the_request_headers_name_the_agent_found_at_start_up() -> None:
    client = gateway.StripeGateway("sk_test_x")._client
    headers = client._requestor.request_headers("post", "V1", {"api_key": "sk_test_x"})
    agent = requestor._APIRequestor._detect_ai_agent(os.environ)
    assert headers["User-Agent"].endswith(f" AIAgent/{agent}" if agent else f"PythonBindings/{requestor.VERSION}")


def test_the_library_logs_through_the_functions_we_replaced() -> None:
    source = inspect.getsource(requestor._APIRequestor.request_raw)
    assert "log_info(" in source and "log_debug(" in source
    assert requestor.log_info is gateway._log_info and requestor.log_debug is gateway._log_debug
