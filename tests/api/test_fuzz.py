"""Schemathesis against the live service (chalice local, as `make run` serves it).

Every operation of the contract, as an anonymous caller, a patron and a librarian, with
schema-valid and schema-breaking data (a bounded, derandomised number of examples): no
response may be >= 500, every response must keep to the contract (status, content type,
headers, schema), and afterwards nothing is left half-done: reconcile finds nothing to
repair and the money rule holds for every book, in the ledger and at the processor.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
    use_after_free,
)
from schemathesis.core.failures import Failure, FailureGroup

from lending import reconcile
from lending_postgres import PostgresStore
from lending_stripe import StripeGateway
from tests.conftest import Client, new_book, sql
from tests.support import contract
from tests.support.money import assert_money_rule

# Every check schemathesis has but positive_data_acceptance (a valid request may still be refused on
# business grounds: a borrowed book, a declined card, a patron on a librarian route).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection, missing_required_header, unsupported_method,
          ignored_auth, allow_header_conformance, use_after_free, ensure_resource_availability]
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 8}
CARDS = ["pm_card_visa", "pm_card_visa", "pm_card_chargeCustomerFail"]


@pytest.mark.timeout(480)  # the desk's 13 and the fees' 5 operations added requests; this machine is shared
def test_fuzzing_every_operation_finds_no_5xx_no_contract_breach_and_leaves_no_partial_state(
        api: str, issuer: Any, librarian: Client, store: PostgresStore, pool: Any, stripe_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    books = [new_book(librarian, title=f"Fuzz {i}")["book_id"] for i in range(10)]
    roles = {"anonymous": {}, "patron": {"Authorization": f"Bearer {issuer.token('fuzzy-patron')}"},
             "librarian": {"Authorization": f"Bearer {issuer.token('fuzzy-libby', librarian=True)}"}}
    schema = schemathesis.openapi.from_dict(contract.spec())
    operations = [result.ok() for result in schema.get_all_operations()]
    tally: dict[str, Counter[str]] = {role: Counter() for role in roles}
    breaches: list[str] = []

    for role, headers in roles.items():
        for operation in operations:
            for mode, examples in EXAMPLES.items():
                try:
                    _fuzz(api, operation, mode, examples, headers, books, tally[role], breaches)
                except Unsatisfiable:
                    # Nothing of this operation can break its schema (e.g. GET /health: its only parameter,
                    # X-Request-ID, takes any string); there is no negative case to send.
                    assert mode is GenerationMode.NEGATIVE, operation.label
                    tally[role]["no_negative_case"] += 1

    with capsys.disabled():
        print("\nschemathesis (bounded):")
        for role, counts in tally.items():
            statuses = " ".join(f"{k}×{v}" for k, v in sorted(counts.items()) if k[0].isdigit())
            print(f"  {role:9} {counts['requests']:4} requests: {counts['5xx']} × 5xx, "
                  f"{counts['nonconforming']} non-conforming   [{statuses}]")
        for line, times in Counter(breaches).most_common(20):
            print(f"  ! {times} × {line}")
    assert breaches == []
    assert sum(c["requests"] for c in tally.values()) >= 500
    assert sum(c["2xx"] for c in tally.values()) > 0, "the fuzzing never got past validation"

    # No fuzzed request left anything half-done: reconcile has nothing to repair ...
    report = reconcile.reconcile(store, StripeGateway("sk_test_suite", api_base=stripe_url), grace_seconds=0)
    assert (report.actions, report.errors) == ({}, 0)
    # ... no payment is left between steps, no loan or sale stands unpaid ...
    assert sql(pool, "SELECT count(*) FROM payments WHERE state IN ('pending', 'authorized') "
                     "OR NOT processor_synced")[0][0] == 0
    assert sql(pool, "SELECT count(*) FROM loans l WHERE returned_at IS NULL AND NOT EXISTS "
                     "(SELECT 1 FROM payments p WHERE p.payment_id = l.payment_id AND p.state = 'captured')")[0][0] == 0
    # ... and the money rule holds for every book, at the processor too.
    for (book_id,) in sql(pool, "SELECT DISTINCT book_id::text FROM payments"):
        assert_money_rule(pool, stripe_url, book_id)


def _fuzz(api: str, operation: Any, mode: GenerationMode, examples: int, headers: dict[str, str],
          books: list[str], counts: Counter[str], breaches: list[str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode), pick=st.integers(0, 2 * len(books)),
           card=st.sampled_from(CARDS))
    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any, pick: int, card: str) -> None:
        if pick < len(books) and case.path_parameters and "book_id" in case.path_parameters:
            case.path_parameters["book_id"] = books[pick]  # half the time, a real book
        if mode is GenerationMode.POSITIVE and isinstance(case.body, dict) and "payment_method" in case.body \
                and pick % 2 == 0:
            case.body["payment_method"] = card
        response = case.call(base_url=api, headers={**(case.headers or {}), **headers}, timeout=30)
        counts["requests"] += 1
        counts[f"{response.status_code // 100}xx"] += 1
        counts[str(response.status_code)] += 1
        if response.status_code >= 500:
            counts["5xx"] += 1
            breaches.append(f"{case.method} {case.formatted_path} {case.body!r:.120} -> {response.status_code}: "
                            f"{response.text[:160]}")
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as failure:  # counted and reported, not shrunk
            counts["nonconforming"] += 1
            found = failure.exceptions if isinstance(failure, FailureGroup) else (failure,)
            breaches.extend([f"{case.method} {case.formatted_path} -> {response.status_code}: {f.title}" for f in found])

    run()
