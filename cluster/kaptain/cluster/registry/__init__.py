"""The embedded image registry: Docker Registry HTTP API v2 backed by `<data-dir>/registry`.

Public API:

- `create_registry_app(storage, authorize=...)`: the aiohttp application (mount it with
  `parent.add_subapp("/v2", app)` or run it as a root application);
- `RegistryStorage(data_dir)`: blobs, manifests and tags on disk; pushed images are unpacked into
  `<data-dir>/images/<config digest hex>/{rootfs/,config.json}`;
- `basic_authorizer(token)`: the `authorize` callback accepting `Basic kaptain:<token>` and
  `Bearer <token>`.
"""

from kaptain.cluster.registry.app import create_registry_app
from kaptain.cluster.registry.auth import basic_authorizer, docker_config_auth
from kaptain.cluster.registry.errors import RegistryError
from kaptain.cluster.registry.storage import RegistryStorage, StoredManifest

__all__ = [
    "RegistryError",
    "RegistryStorage",
    "StoredManifest",
    "basic_authorizer",
    "create_registry_app",
    "docker_config_auth",
]
