"""Schemathesis over the collector's /openapi.json, against the real server on a free port."""

from __future__ import annotations

import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

import pytest
from support import LiveServer, write_search_index, write_site

from kb.votes.store import open_store
from kb.cli.services import collector_services
from kb.votes.collector import create_app

TOKEN = "schemathesis-token"


@pytest.fixture(scope="module")
def live_api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("openapi")
    site = write_site(tmp / "site")
    write_search_index(site)
    store = open_store(f"sqlite:///{tmp}/votes.db")
    store.migrate()
    with LiveServer(create_app(site, store, rate_limit=0, admin_token=TOKEN, **collector_services())) as server:
        api = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        # Both well-formed and malformed requests: the collector must refuse the latter with 4xx.
        api.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
        # 413 (body too large) is a rejection too.
        rejection = api.config.checks.negative_data_rejection
        rejection.expected_statuses = [*rejection.expected_statuses, "413"]
        yield api
    store.close()


schema = schemathesis.pytest.from_fixture("live_api")


@schema.auth()
class AdminToken:
    """The collector's admin token, sent as an operator would. Given to schemathesis rather than
    added to every request, so that the cases testing a missing or wrong token go out as generated."""

    def get(self, case, context):
        return TOKEN

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_collector_conforms_to_its_openapi(case):
    # Acceptance of schema-valid bodies depends on the site manifest (which article ids and
    # versions exist), which JSON Schema cannot say; every other check runs.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
