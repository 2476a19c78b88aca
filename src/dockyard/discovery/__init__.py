"""Discovery: how requests find a service's healthy replicas.

Each environment has an ingress: a Caddy container that Dockyard configures
through Caddy's admin API, in the network namespace of a holder container that
publishes the port and holds the names (so Caddy can be replaced beside itself).
It serves the environment's public routes, and it stands in for every proxied
service on the environment's network (the holder has the service's network
alias) and forwards to that service's healthy replicas only.

- ``caddy``: the routing table (a value) and the Caddy config made from it (pure);
- ``ingress``: the ingress image, its service definition, and the admin API
  client that loads configs and watches requests in flight;
- ``catalog``: every service's healthy endpoints and the routes to them;
- ``registrars``: external catalogs (etcd, Consul) kept in sync with it;
- ``agent``: the image of the catalog agent, the accessory that keeps the
  registrars in sync between deploys (its program: ``agent_image/agent.py``);
- ``metrics``: the image of the environment's Prometheus, whose targets file the
  agent keeps (``registrars.file_sd``);
- ``traffic``: what the ingress saw of each replica (its log of proxied
  attempts), as figures; ``rates``: per-service request and error rates.

See docs/ingress.md, docs/catalog.md, docs/metrics.md and docs/watch.md.
"""

from dockyard.discovery.caddy import HealthProbe, ProxiedService, RoutingTable, caddy_config
from dockyard.discovery.ingress import (
    IngressClient,
    IngressError,
    IngressUnavailable,
    ingress_build,
)
from dockyard.discovery.rates import RatesReader, ServiceRates, service_rates
from dockyard.discovery.traffic import Figures, TrafficLog
from dockyard.plan.ingress import HOLDER_SERVICE, INGRESS_SERVICE, holder_service, ingress_service
from dockyard.plan.model import PublicRoute

__all__ = [
    "HOLDER_SERVICE",
    "INGRESS_SERVICE",
    "Figures",
    "HealthProbe",
    "IngressClient",
    "IngressError",
    "IngressUnavailable",
    "ProxiedService",
    "PublicRoute",
    "RatesReader",
    "RoutingTable",
    "ServiceRates",
    "TrafficLog",
    "caddy_config",
    "holder_service",
    "ingress_build",
    "ingress_service",
    "service_rates",
]
