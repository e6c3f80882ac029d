"""The files in deploy/ agree with the code: services, ports, commands, URLs, metrics.

Docker and Kubernetes cannot run on the test machine, so these tests read the files
instead of running them: every YAML and JSON file parses; the Compose services and
the Kubernetes Deployments and Services are exactly the services of
``quantgrid.services.SERVICES`` that run in a process of their own, on their
registry ports, run with ``quantgrid serve NAME`` and given each other's
``QUANTGRID_*_URL`` (a co-located service's URL is its host's) and the JWT secret by
reference; Prometheus has one job per service, a co-located one scraping its host at
``/<name>/metrics``; the Grafana dashboard queries only metrics ``ServiceMetrics``
registers; the Dockerfile installs the hashed lock and runs as an unprivileged user;
and no file holds a secret.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from quantgrid.services import (
    GATEWAY,
    INFRASTRUCTURE_ENV,
    SERVICES,
    ServiceMetrics,
    ServiceSettings,
    ServiceSpec,
)

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"

#: Compose services besides QuantGrid's own: the infrastructure, and the one-off
#: migration that brings the PostgreSQL schema up to date before the services start.
COMPOSE_INFRASTRUCTURE = {"postgres", "nats", "redis", "prometheus", "grafana"}
COMPOSE_DEPLOY_STEPS = {"migrate"}
#: Where each infrastructure variable must point, in Compose and in Kubernetes alike.
INFRASTRUCTURE_URLS = {
    "database": ("postgresql", "postgres", 5432),
    "nats": ("nats", "nats", 4222),
    "redis": ("redis", "redis", 6379),
}
K8S_INFRASTRUCTURE = {"postgres", "nats", "redis"}
#: Series the dashboard may query that Prometheus itself makes, one per target.
PROMETHEUS_SERIES = {"up"}
JWT_SECRET_VAR = "QUANTGRID_JWT_SECRET"
_SERVICE_URL_VAR = re.compile(r"QUANTGRID_[A-Z0-9_]+_URL")
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::?(?P<op>[-?])(?P<arg>[^}]*))?\}")

SPECS = list(SERVICES.values())
#: The services with a process (container, Deployment, scrape job) of their own; the
#: others (``ServiceSpec.hosted_by``: risk and portfolio) are served by their host's.
DEPLOYED = [spec for spec in SPECS if spec.hosted_by is None]
DEPLOYED_IDS = [spec.name for spec in DEPLOYED]
DEPLOYED_NAMES = set(DEPLOYED_IDS)
HOSTED = [spec for spec in SPECS if spec.hosted_by is not None]


def _url(spec: ServiceSpec) -> str:
    """Return where the others reach ``spec``: its host's process if it has one."""
    process = SERVICES[spec.hosted_by] if spec.hosted_by is not None else spec
    return f"http://{process.name}:{process.port}"


def _others(spec: ServiceSpec) -> dict[str, str]:
    """Return each service ``spec``'s process reaches over HTTP → its URL."""
    return {s.name: _url(s) for s in SPECS if s is not spec and s.hosted_by != spec.name}


# -- loading ---------------------------------------------------------------------------
def _yaml_docs(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as file:
        return [doc for doc in yaml.safe_load_all(file) if doc is not None]


@cache
def _compose() -> dict[str, Any]:
    (doc,) = _yaml_docs(DEPLOY / "compose.yaml")
    return doc


def _compose_services() -> dict[str, Any]:
    return _compose()["services"]


def _deploy_files(*suffixes: str) -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix in suffixes)


@cache
def _k8s_objects() -> tuple[dict[str, Any], ...]:
    objects = []
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            objects.extend(_yaml_docs(path))
    return tuple(objects)


def _k8s(kind: str) -> dict[str, dict[str, Any]]:
    found = [o for o in _k8s_objects() if o["kind"] == kind]
    by_name = {o["metadata"]["name"]: o for o in found}
    assert len(by_name) == len(found), f"two {kind} objects share a name"
    return by_name


def _serve(spec: ServiceSpec) -> list[str]:
    return ["quantgrid", "serve", spec.name, "--host", "0.0.0.0", "--port", str(spec.port)]


def _resolve(env: Mapping[str, Any]) -> dict[str, str]:
    """Return ``env`` as Compose would pass it: ``${VAR:-default}`` gives its default,
    and a variable that must be set (``${VAR:?message}``) a stand-in value."""

    def value(match: re.Match[str]) -> str:
        return match["arg"] if match["op"] == "-" else "stand-in"

    return {k: _INTERPOLATION.sub(value, str(v)) for k, v in env.items()}


def _check_infrastructure_urls(env: Mapping[str, str]) -> None:
    settings = ServiceSettings.from_env(env)
    for what, variable in INFRASTRUCTURE_ENV.items():
        scheme, host, port = INFRASTRUCTURE_URLS[what]
        url = getattr(settings, f"{what}_url")
        assert url is not None, f"{variable} is not set"
        assert re.fullmatch(rf"{scheme}://([^@/]*@)?{host}:{port}(/.*)?", url), (variable, url)


# -- every file ------------------------------------------------------------------------
def test_every_yaml_and_json_file_in_deploy_parses() -> None:
    yaml_files = _deploy_files(".yaml", ".yml")
    json_files = _deploy_files(".json")

    assert {p.relative_to(DEPLOY).as_posix() for p in yaml_files} >= {
        "compose.yaml",
        "prometheus/prometheus.yml",
        "grafana/provisioning/datasources/prometheus.yaml",
        "grafana/provisioning/dashboards/quantgrid.yaml",
        "k8s/kustomization.yaml",
    }
    for path in yaml_files:
        assert _yaml_docs(path), f"{path} is empty"
    for path in json_files:
        json.loads(path.read_text(encoding="utf-8"))
    assert json_files


# -- Compose ---------------------------------------------------------------------------
def test_co_located_services_are_hosted_by_a_deployed_one() -> None:
    assert {s.name: s.hosted_by for s in HOSTED} == {"risk": "execution", "portfolio": "execution"}
    assert {s.hosted_by for s in HOSTED} <= DEPLOYED_NAMES


def test_compose_runs_every_deployed_service_and_the_infrastructure() -> None:
    assert set(_compose_services()) == DEPLOYED_NAMES | COMPOSE_INFRASTRUCTURE | (
        COMPOSE_DEPLOY_STEPS
    )


@pytest.mark.parametrize("spec", DEPLOYED, ids=DEPLOYED_IDS)
def test_compose_service_runs_on_its_registry_port(spec: ServiceSpec) -> None:
    service = _compose_services()[spec.name]

    assert service["command"] == _serve(spec)
    published = [str(p).rsplit(":", 1)[-1] for p in service.get("ports", [])]
    assert str(spec.port) in [str(p) for p in service.get("expose", [])] + published
    if spec is GATEWAY:  # the only way in, and only from this machine
        assert service["ports"] == [f"127.0.0.1:{spec.port}:{spec.port}"]
    else:
        assert "ports" not in service
    health = " ".join(service["healthcheck"]["test"])
    assert f"http://127.0.0.1:{spec.port}/health'" in health
    assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}


@pytest.mark.parametrize("spec", DEPLOYED, ids=DEPLOYED_IDS)
def test_compose_service_finds_the_infrastructure_and_every_other_service(
    spec: ServiceSpec,
) -> None:
    env = _resolve(_compose_services()[spec.name]["environment"])
    others = _others(spec)

    url_vars = {k for k in env if _SERVICE_URL_VAR.fullmatch(k)}
    assert url_vars - set(INFRASTRUCTURE_ENV.values()) == {SERVICES[n].env_url for n in others}
    # Read the way the service will read it.
    assert ServiceSettings.from_env(env).service_urls == others
    _check_infrastructure_urls(env)
    # A co-located service is reached at its host's URL.
    for hosted in HOSTED:
        if hosted.env_url in env:
            assert env[hosted.env_url] == _url(SERVICES[str(hosted.hosted_by)])


@pytest.mark.parametrize("spec", DEPLOYED, ids=DEPLOYED_IDS)
def test_compose_service_waits_for_healthy_infrastructure(spec: ServiceSpec) -> None:
    depends_on = _compose_services()[spec.name]["depends_on"]

    assert depends_on == {
        "postgres": {"condition": "service_healthy"},
        "nats": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    for name in ("postgres", "nats", "redis"):
        assert _compose_services()[name]["healthcheck"]["test"]


def test_compose_gives_the_jwt_secret_to_every_service_and_never_as_a_literal() -> None:
    holders = {
        n for n, s in _compose_services().items() if JWT_SECRET_VAR in s.get("environment", {})
    }
    assert holders == DEPLOYED_NAMES  # every service checks tokens; nothing else needs it

    for name in holders:
        value = _compose_services()[name]["environment"][JWT_SECRET_VAR]
        match = _INTERPOLATION.fullmatch(value)
        assert match and match["name"] == JWT_SECRET_VAR, name
        assert ":?" in value, f"compose must refuse to start {name} without the secret"


def test_compose_migrates_postgres_before_the_services_start() -> None:
    migrate = _compose_services()["migrate"]
    env = _resolve(migrate["environment"])
    command = " ".join(migrate["command"])

    assert "PostgresStore(os.environ['QUANTGRID_DATABASE_URL'])" in command
    assert "store.migrate()" in command
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert (
        env["QUANTGRID_DATABASE_URL"]
        == _resolve(_compose_services()[GATEWAY.name]["environment"])["QUANTGRID_DATABASE_URL"]
    )


def test_compose_infrastructure_versions_and_jetstream() -> None:
    services = _compose_services()

    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["nats"]["image"].startswith("nats:2.10")
    command = services["nats"]["command"]
    assert "-js" in command
    store_dir = command[command.index("-sd") + 1]
    assert any(v.split(":")[1] == store_dir for v in services["nats"]["volumes"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    for name in services["postgres"]["environment"]:
        if "PASSWORD" in name:
            assert _INTERPOLATION.fullmatch(services["postgres"]["environment"][name])
    for name, service in services.items():
        if name not in COMPOSE_DEPLOY_STEPS:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def _mounts(service: Mapping[str, Any]) -> dict[str, Path]:
    """Return each bind mount of a Compose service: target → source under deploy/."""
    mounts = {}
    for volume in service["volumes"]:
        source, target, *_ = volume.split(":")
        if source.startswith("."):
            mounts[target] = (DEPLOY / source).resolve()
    return mounts


def test_compose_prometheus_and_grafana_mount_files_that_exist() -> None:
    services = _compose_services()
    prometheus = _mounts(services["prometheus"])
    grafana = _mounts(services["grafana"])

    assert prometheus["/etc/prometheus/prometheus.yml"] == DEPLOY / "prometheus/prometheus.yml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    assert grafana["/etc/grafana/provisioning"] == DEPLOY / "grafana/provisioning"
    for path in [*prometheus.values(), *grafana.values()]:
        assert path.exists(), path

    (provider,) = _yaml_docs(DEPLOY / "grafana/provisioning/dashboards/quantgrid.yaml")
    (dashboards,) = provider["providers"]
    assert grafana[dashboards["options"]["path"]] == DEPLOY / "grafana/dashboards"

    (sources,) = _yaml_docs(DEPLOY / "grafana/provisioning/datasources/prometheus.yaml")
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert _INTERPOLATION.fullmatch(
        services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    )


# -- Prometheus ------------------------------------------------------------------------
def _scrape_jobs() -> dict[str, Any]:
    (config,) = _yaml_docs(DEPLOY / "prometheus/prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert len(jobs) == len(config["scrape_configs"]), "two jobs share a name"
    return jobs


def _scraped_at(job: Mapping[str, Any]) -> tuple[list[str], str]:
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    return targets, job.get("metrics_path", "/metrics")


def test_prometheus_has_a_job_for_every_service() -> None:
    assert set(_scrape_jobs()) == set(SERVICES) | {"prometheus"}


@pytest.mark.parametrize("spec", DEPLOYED, ids=DEPLOYED_IDS)
def test_prometheus_scrapes_a_deployed_service_at_its_registry_port(spec: ServiceSpec) -> None:
    assert _scraped_at(_scrape_jobs()[spec.name]) == (
        [f"{spec.name}:{spec.port}"],
        spec.metrics_path,
    )


@pytest.mark.parametrize("spec", HOSTED, ids=[s.name for s in HOSTED])
def test_prometheus_scrapes_a_hosted_service_at_its_host_under_its_prefix(
    spec: ServiceSpec,
) -> None:
    # The host's PathDispatcher answers /<name>/metrics from the hosted app's registry.
    host = SERVICES[str(spec.hosted_by)]
    assert _scraped_at(_scrape_jobs()[spec.name]) == (
        [f"{host.name}:{host.port}"],
        f"/{spec.name}{spec.metrics_path}",
    )


# -- Grafana ---------------------------------------------------------------------------
_PROMQL_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "and",
    "or",
    "unless",
    "inf",
    "nan",
}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


def _registered_metrics() -> dict[str, set[str]]:
    """Return each metric family ``ServiceMetrics`` defines → the series names it exports.

    Instantiating the class defines the HTTP metrics; reading each of its cached
    properties defines the domain ones, so a metric added there is found here.
    """
    metrics = ServiceMetrics("deploy-files")
    for name, attribute in vars(ServiceMetrics).items():
        if isinstance(attribute, cached_property):
            getattr(metrics, name)
    return {
        family.name: {family.name + suffix for suffix in _SUFFIXES[family.type]}
        for family in metrics.registry.collect()
    }


def promql_metric_names(expr: str) -> set[str]:
    """Return the metric names a PromQL expression selects.

    Strings, label matchers, ranges and grouping clauses are dropped first; what is
    left that is neither a function call, a keyword nor a number is a metric name.
    """
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^{}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"(?<![A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*", expr):
        word = match.group()
        following = expr[match.end() :].lstrip()
        if following.startswith("(") or word.lower() in _PROMQL_KEYWORDS:
            continue
        names.add(word)
    return names


def test_promql_metric_names_sees_through_functions_matchers_and_grouping() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{job=~"$service",'
        ' route!="x{y}"}[$__rate_interval]))) / on (job) group_left b + c offset 5m'
    )
    assert promql_metric_names(expr) == {"a_bucket", "b", "c"}


def _dashboard() -> dict[str, Any]:
    return json.loads((DEPLOY / "grafana/dashboards/quantgrid.json").read_text(encoding="utf-8"))


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _dashboard_queries() -> list[str]:
    dashboard = _dashboard()
    queries = [t["expr"] for p in _panels(dashboard["panels"]) for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable["query"]
        query = query["query"] if isinstance(query, dict) else query
        # label_values(metric, label): the metric is the first argument.
        queries.append(re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", query))
    return queries


def test_grafana_dashboard_queries_only_metrics_the_services_register() -> None:
    registered = _registered_metrics()
    exported = set().union(*registered.values())

    used = set().union(*(promql_metric_names(q) for q in _dashboard_queries()))

    assert used - exported - PROMETHEUS_SERIES == set()
    # And it shows each of them (target_info names a service; it is not a measurement).
    unshown = {
        family for family, series in registered.items() if family != "target" and not series & used
    }
    assert unshown == set()


def test_grafana_dashboard_shows_what_the_issue_asks_for() -> None:
    dashboard = _dashboard()
    exprs = " ".join(_dashboard_queries())
    titles = " ".join(p["title"].lower() for p in _panels(dashboard["panels"]))

    assert re.search(r"histogram_quantile\(0\.5,.*by \(job, route, le\)", exprs)
    assert re.search(r"histogram_quantile\(0\.99,.*by \(job, route, le\)", exprs)
    assert "sum by (job, route) (rate(quantgrid_http_requests_total" in exprs
    for word in ("orders", "fills", "rejections", "cache hit rate", "bus lag"):
        assert word in titles


def test_grafana_panels_use_the_provisioned_datasource() -> None:
    (sources,) = _yaml_docs(DEPLOY / "grafana/provisioning/datasources/prometheus.yaml")
    uids = {s["uid"] for s in sources["datasources"]}
    dashboard = _dashboard()

    assert dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in _panels(dashboard["panels"])]
    assert len(ids) == len(set(ids))
    for panel in _panels(dashboard["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] in uids, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] in uids, panel["title"]


# -- Kubernetes ------------------------------------------------------------------------
def _container(deployment: Mapping[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _port_number(container: Mapping[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return number


def test_k8s_has_a_deployment_and_a_service_for_each_deployed_service() -> None:
    assert set(_k8s("Deployment")) == DEPLOYED_NAMES
    assert set(_k8s("Service")) == DEPLOYED_NAMES | K8S_INFRASTRUCTURE
    assert set(_k8s("StatefulSet")) == K8S_INFRASTRUCTURE
    assert set(_k8s("Namespace")) == {"quantgrid"}


@pytest.mark.parametrize("spec", DEPLOYED, ids=DEPLOYED_IDS)
def test_k8s_deployment_runs_the_service_on_its_port_with_probes(spec: ServiceSpec) -> None:
    deployment = _k8s("Deployment")[spec.name]
    template = deployment["spec"]["template"]
    container = _container(deployment)

    assert container["command"] == _serve(spec)
    assert [p["containerPort"] for p in container["ports"]] == [spec.port]
    labels = template["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == "/health", probe
        assert _port_number(container, get["port"]) == spec.port, probe
    resources = container["resources"]
    for bound in ("requests", "limits"):
        assert set(resources[bound]) >= {"cpu", "memory"}, bound
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(spec.port)
    assert annotations["prometheus.io/path"] == spec.metrics_path
    pod = template["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("spec", DEPLOYED, ids=DEPLOYED_IDS)
def test_k8s_service_routes_its_registry_port_to_the_pods(spec: ServiceSpec) -> None:
    service = _k8s("Service")[spec.name]
    deployment = _k8s("Deployment")[spec.name]
    container = _container(deployment)

    (port,) = service["spec"]["ports"]
    assert port["port"] == spec.port
    assert _port_number(container, port.get("targetPort", port["port"])) == spec.port
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


@pytest.mark.parametrize("spec", DEPLOYED, ids=DEPLOYED_IDS)
def test_k8s_service_env_comes_from_the_configmap_and_the_secret(spec: ServiceSpec) -> None:
    container = _container(_k8s("Deployment")[spec.name])
    (config_map,) = _k8s("ConfigMap").values()
    (secret,) = _k8s("Secret").values()

    assert container["envFrom"] == [{"configMapRef": {"name": config_map["metadata"]["name"]}}]
    from_secret = {
        e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e
    }
    assert all("value" not in e for e in container["env"]), "a literal env value"
    # Every service reads the database and checks tokens: both by reference only.
    assert set(from_secret) == {"QUANTGRID_DATABASE_URL", JWT_SECRET_VAR}
    for name, ref in from_secret.items():
        assert ref == {"name": secret["metadata"]["name"], "key": name}
        assert name in secret["stringData"]


def test_k8s_configmap_holds_every_service_url_and_the_infrastructure() -> None:
    (config_map,) = _k8s("ConfigMap").values()
    (secret,) = _k8s("Secret").values()
    env = {
        **config_map["data"],
        "QUANTGRID_DATABASE_URL": secret["stringData"]["QUANTGRID_DATABASE_URL"],
    }

    assert ServiceSettings.from_env(env).service_urls == {s.name: _url(s) for s in SPECS}
    for spec in SPECS:
        assert config_map["data"][spec.env_url] == _url(spec)
    for hosted in HOSTED:  # reached at its host's URL
        assert config_map["data"][hosted.env_url] == _url(SERVICES[str(hosted.hosted_by)])
    assert not {k for k in config_map["data"] if re.search("SECRET|PASSWORD|TOKEN|KEY", k)}
    # The placeholder password has a space, which a URL may not: stand it in.
    env["QUANTGRID_DATABASE_URL"] = re.sub(r"<[^>]*>", "stand-in", env["QUANTGRID_DATABASE_URL"])
    _check_infrastructure_urls(env)
    services = _k8s("Service")
    for what in INFRASTRUCTURE_ENV:
        _, host, port = INFRASTRUCTURE_URLS[what]
        assert port in [p["port"] for p in services[host]["spec"]["ports"]], what


def test_k8s_infrastructure_runs_the_versions_compose_does() -> None:
    compose = _compose_services()
    for name in K8S_INFRASTRUCTURE:
        (container,) = _k8s("StatefulSet")[name]["spec"]["template"]["spec"]["containers"]
        assert container["image"] == compose[name]["image"], name
        assert container.get("readinessProbe") and container.get("livenessProbe"), name
    (nats,) = _k8s("StatefulSet")["nats"]["spec"]["template"]["spec"]["containers"]
    assert nats["args"] == compose["nats"]["command"]


def test_k8s_secret_template_holds_placeholders_only() -> None:
    (secret,) = _k8s("Secret").values()

    assert secret["metadata"]["name"] == "quantgrid-secrets"
    assert "data" not in secret
    for key, value in secret["stringData"].items():
        assert re.search(r"<[^<>]+>", value), f"{key} is not a placeholder"
    # A gateway given the placeholder refuses to start (the secret needs 32 bytes).
    assert len(secret["stringData"][JWT_SECRET_VAR].encode()) < 32


def test_k8s_ingress_routes_to_the_gateway() -> None:
    (ingress,) = _k8s("Ingress").values()
    backends = [
        path["backend"]["service"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert backends == [{"name": GATEWAY.name, "port": {"number": GATEWAY.port}}]


def test_k8s_migration_job_uses_the_database_secret() -> None:
    (job,) = _k8s("Job").values()
    (container,) = job["spec"]["template"]["spec"]["containers"]
    compose_command = _compose_services()["migrate"]["command"]

    assert container["command"] == compose_command
    assert container["image"] == _container(_k8s("Deployment")[GATEWAY.name])["image"]


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    (kustomization,) = _yaml_docs(K8S / "kustomization.yaml")
    manifests = {
        p.relative_to(K8S).as_posix() for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml"
    }

    assert kustomization["namespace"] == "quantgrid"
    assert set(kustomization["resources"]) == manifests - {"secret.template.yaml"}
    (image,) = kustomization["images"]
    for deployment in _k8s("Deployment").values():
        assert _container(deployment)["image"].split(":")[0] == image["name"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomization_builds_with_kubectl() -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    objects = [o for o in yaml.safe_load_all(built) if o]

    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {
        "quantgrid"
    }
    assert {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"} == DEPLOYED_NAMES


# -- Dockerfile ------------------------------------------------------------------------
def _dockerfile() -> list[tuple[str, str]]:
    """Return the Dockerfile's instructions as (KEYWORD, arguments), lines joined."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, arguments = stripped.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def _instructions(keyword: str) -> list[str]:
    return [arguments for k, arguments in _dockerfile() if k == keyword]


def _base_images() -> list[str]:
    defaults = {}
    for arguments in _instructions("ARG"):
        name, _, default = arguments.partition("=")
        defaults[name] = default
    images = []
    for arguments in _instructions("FROM"):
        image = arguments.split()[0]
        images.append(re.sub(r"\$\{(\w+)\}", lambda m: defaults[m[1]], image))
    return images


def test_dockerfile_is_multi_stage_on_python_slim() -> None:
    froms = _instructions("FROM")
    assert len(froms) >= 2
    assert all(" AS " in f.upper() for f in froms)
    assert set(_base_images()) == {"python:3.11-slim"}
    runtime = froms[-1].split()[-1]
    assert any(c.startswith("--from=") and runtime not in c for c in _instructions("COPY"))


def test_dockerfile_python_matches_requires_python_and_the_lock() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lock = (ROOT / "requirements/lock.txt").read_text(encoding="utf-8")
    (image,) = set(_base_images())
    version = re.fullmatch(r"python:(\d+\.\d+)-slim", image)
    assert version

    assert Version(version[1]) in SpecifierSet(pyproject["project"]["requires-python"])
    locked_for = re.search(r"--python-version (\d+\.\d+)", lock)
    assert locked_for and locked_for[1] == version[1]


def test_dockerfile_installs_the_hashed_lock_then_the_package_without_dependencies() -> None:
    runs = [shlex.split(r) for r in _instructions("RUN")]
    lock_installs = [r for r in runs if "install" in r and "requirements/lock.txt" in r]
    assert len(lock_installs) == 1
    (lock_install,) = lock_installs
    assert "--require-hashes" in lock_install
    assert lock_install[lock_install.index("requirements/lock.txt") - 1] == "-r"
    assert any("--no-deps" in r and r[r.index("install") + 1 :].count(".") for r in runs)
    assert any("requirements/lock.txt" in c for c in _instructions("COPY"))
    # The lock is what --require-hashes needs: every requirement pinned and hashed.
    lock = (ROOT / "requirements/lock.txt").read_text(encoding="utf-8")
    for requirement in re.split(r"\n(?=[A-Za-z])", lock.split("\n", 2)[2].strip()):
        assert "==" in requirement and "--hash=sha256:" in requirement, requirement[:60]


def test_dockerfile_runs_as_an_unprivileged_user() -> None:
    user = _instructions("USER")[-1]
    assert user.split(":")[0] not in {"root", "0"}
    keywords = [k for k, _ in _dockerfile()]
    last_from = len(keywords) - 1 - keywords[::-1].index("FROM")
    assert "USER" in keywords[last_from:]


def test_dockerfile_exposes_the_registry_ports_and_checks_health() -> None:
    exposed = {int(p) for e in _instructions("EXPOSE") for p in e.split()}
    (health,) = _instructions("HEALTHCHECK")
    (cmd,) = _instructions("CMD")

    assert exposed == {spec.port for spec in DEPLOYED}
    assert f"http://127.0.0.1:{GATEWAY.port}/health" in health
    assert json.loads(cmd) == ["quantgrid", "up", "--host", "0.0.0.0"]
    secretish = re.compile(r"SECRET|PASSWORD|TOKEN|KEY", re.IGNORECASE)
    for arguments in _instructions("ENV") + _instructions("ARG"):
        assert not secretish.search(arguments), arguments


def test_dockerignore_lets_in_only_what_the_image_is_built_from() -> None:
    patterns = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    for copy in _instructions("COPY"):
        if copy.startswith("--from="):
            continue
        *sources, _ = copy.split()
        assert {s.rstrip("/") for s in sources} <= allowed, copy
    assert not any(".env" in a or "deploy" in a for a in allowed)


# -- secrets ---------------------------------------------------------------------------
_SECRET_KEY = re.compile(
    r"(?<![A-Za-z0-9_.${-])(?P<key>[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|private[_-]?key)"
    r"[A-Za-z0-9_.-]*)[\"']?[ \t]*[:=][ \t]*[\"']?(?P<value>[^\s\"'#,{}\[\]]+)",
    re.IGNORECASE,
)
_URL_CREDENTIALS = re.compile(r"://[^/\s:@]+:(?P<value>[^@\s/]+)@")
_SECRET_SHAPES = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\bqgk_[0-9a-f]{16}_[A-Za-z0-9_-]+"),  # a QuantGrid API key
    re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),  # a JWT
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # an AWS access key id
]
#: A long run of base64 or hex characters, as random keys are written.
_RANDOM_LOOKING = re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_=-]{32,}(?![A-Za-z0-9+/_=-])")
_NOT_SECRETS = {"true", "false", "null", "yes", "no"}


def _is_placeholder(value: str) -> bool:
    """A value that names where the secret comes from instead of holding it."""
    return value.startswith(("$", "<"))


def find_secrets(text: str) -> list[str]:
    """Return what in ``text`` looks like a secret rather than a placeholder for one."""
    found = []
    for match in _SECRET_KEY.finditer(text):
        key, value = match["key"], match["value"]
        # secretName, secretKeyRef: references to a secret, not secrets.
        if (
            re.search(r"(name|ref|file)$", key, re.IGNORECASE)
            or _is_placeholder(value)
            or value.lower() in _NOT_SECRETS
        ):
            continue
        found.append(match.group())
    found += [m.group() for m in _URL_CREDENTIALS.finditer(text) if not _is_placeholder(m["value"])]
    found += [m.group() for shape in _SECRET_SHAPES for m in shape.finditer(text)]
    # Random keys mix cases and digits; names, rulers and hex digests of images do not.
    found += [
        word
        for word in _RANDOM_LOOKING.findall(text)
        if re.search("[a-z]", word) and re.search("[A-Z]", word) and re.search("[0-9]", word)
    ]
    return found


@pytest.mark.parametrize(
    "text",
    [
        "POSTGRES_PASSWORD: hunter2hunter2",
        "QUANTGRID_JWT_SECRET=s3cr3t",
        '"api_key": "abc123"',
        "  GF_SECURITY_ADMIN_PASSWORD: 'admin'",
        "url: postgresql://quantgrid:pa55word@postgres:5432/quantgrid",
        "key: qgk_0123456789abcdef_Zm9vYmFyYmF6",
        "token: Bearer",
        "x: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
        "-----BEGIN RSA PRIVATE KEY-----",
        "jwt: 9f8Kq2LmZ0xYv7TgR4hNw1cBd6PaE3sUoJiQ5kWz8AyD",
    ],
)
def test_secret_scan_finds_a_planted_secret(text: str) -> None:
    assert find_secrets(text)


@pytest.mark.parametrize(
    "text",
    [
        "QUANTGRID_JWT_SECRET: ${QUANTGRID_JWT_SECRET:?set it}",
        "POSTGRES_PASSWORD=",
        'QUANTGRID_JWT_SECRET: "<at least 32 random bytes>"',
        "secretKeyRef: {name: quantgrid-secrets, key: POSTGRES_PASSWORD}",
        "secretName: quantgrid-tls",
        "url: postgresql://quantgrid:${POSTGRES_PASSWORD}@postgres:5432/quantgrid",
        '--from-literal=POSTGRES_PASSWORD="$PG_PASSWORD"',
    ],
)
def test_secret_scan_passes_placeholders_and_references(text: str) -> None:
    assert find_secrets(text) == []


def _git_ignored() -> set[Path]:
    """Return the local secret files deploy/.gitignore names (a real deploy/.env)."""
    patterns = (DEPLOY / ".gitignore").read_text(encoding="utf-8").split("\n")
    return {DEPLOY / p.strip() for p in patterns if p.strip() and not p.startswith("#")}


def test_no_file_in_deploy_holds_a_secret() -> None:
    ignored = _git_ignored()
    files = [p for p in DEPLOY.rglob("*") if p.is_file() and p not in ignored]
    assert files
    found = {
        p.relative_to(DEPLOY).as_posix(): hits
        for p in files
        if (hits := find_secrets(p.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_local_secret_files_are_kept_out_of_git() -> None:
    assert {DEPLOY / ".env", K8S / "secret.yaml"} <= _git_ignored()
    assert (DEPLOY / ".env.example").exists()
    for line in (DEPLOY / ".env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            assert value == "", f"{name} has a value in .env.example"
