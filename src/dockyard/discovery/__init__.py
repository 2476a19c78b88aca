"""Discovery: how requests find a service's healthy replicas.

Each environment has an ingress, a Caddy container that Dockyard configures
through Caddy's admin API. It serves the environment's public routes, and it
stands in for every proxied service on the environment's network (it holds the
service's network alias) and forwards to that service's healthy replicas only.

- ``caddy``: the routing table (a value) and the Caddy config made from it (pure);
- ``ingress``: the ingress image, its service definition, and the admin API
  client that loads configs and watches requests in flight.

See docs/ingress.md.
"""

from dockyard.discovery.caddy import HealthProbe, ProxiedService, RoutingTable, caddy_config
from dockyard.discovery.ingress import (
    IngressClient,
    IngressError,
    IngressUnavailable,
    ingress_build,
)
from dockyard.plan.ingress import INGRESS_SERVICE, ingress_service
from dockyard.plan.model import PublicRoute

__all__ = [
    "INGRESS_SERVICE",
    "HealthProbe",
    "IngressClient",
    "IngressError",
    "IngressUnavailable",
    "ProxiedService",
    "PublicRoute",
    "RoutingTable",
    "caddy_config",
    "ingress_build",
    "ingress_service",
]
