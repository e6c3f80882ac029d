"""The service registry: names, ports and URL variables are unique and well formed."""

from __future__ import annotations

import re

from quantgrid.services import GATEWAY, INFRASTRUCTURE_ENV, SERVICES


def test_services_have_unique_ports_names_and_url_variables() -> None:
    specs = list(SERVICES.values())

    assert specs[0] is GATEWAY and GATEWAY.port == 8000
    assert len({s.port for s in specs}) == len(specs)
    assert len({s.env_url for s in specs}) == len(specs)
    for spec in specs:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", spec.name)
        assert re.fullmatch(r"QUANTGRID_[A-Z_]+_URL", spec.env_url)
        assert 1024 < spec.port < 65536
    assert SERVICES["market-data"].env_url == "QUANTGRID_MARKET_DATA_URL"
    assert set(INFRASTRUCTURE_ENV) == {"database", "nats", "redis"}


def test_co_located_services_name_a_host_that_runs_in_its_own_process() -> None:
    hosted = {name: spec.hosted_by for name, spec in SERVICES.items() if spec.hosted_by}

    assert hosted == {"risk": "execution", "portfolio": "execution"}
    for host in hosted.values():
        assert host in SERVICES and host != GATEWAY.name
        assert SERVICES[host].hosted_by is None
