"""The Python peer of benches/compare/run: scim2-server's in-memory SCIM 2.0
application, served by waitress.

    python py-peer.py --port 18082 --token SECRET

It builds the application exactly as the `scim2-server` command does (RFC
7643 schemas, User and Group, InMemoryStorage, a static bearer token), but
serves it with waitress instead of the command's wsgiref test server: wsgiref
closes the connection after every request and logs each one to stderr, which
would measure TCP handshakes and terminal output rather than the SCIM code.
waitress keeps connections alive, as the other targets do. Endpoints are
under /v2 (scim2-server's prefix). Prints "listening on URL" once up.
"""

import argparse
import logging
import secrets

import waitress
from scim2_models import ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
from scim2_server.testserver.application import BearerTokenApplication
from scim2_server.utils import load_default_resource_types
from scim2_server.utils import load_default_schemas
from scim2_server.utils import load_default_service_provider_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18082)
    parser.add_argument("--token", required=True, help="the static bearer token")
    parser.add_argument(
        "--threads", type=int, default=8, help="waitress worker threads"
    )
    args = parser.parse_args()

    config = load_default_service_provider_config()
    config.authentication_schemes = [
        *(config.authentication_schemes or []),
        BEARER_TOKEN_SCHEME,
    ]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(),
        load_default_resource_types().values(),
        config=config,
    )
    app = BearerTokenApplication(
        InMemoryStorage(),
        provider,
        service=ScimService(provider, secret=secrets.token_urlsafe(32)),
        bearer_tokens=[args.token],
    )

    # waitress logs a warning per queue overflow; keep only errors.
    logging.basicConfig(level=logging.ERROR)
    server = waitress.create_server(
        app,
        host=args.host,
        port=args.port,
        threads=args.threads,
        connection_limit=1000,
        channel_timeout=60,
    )
    print(f"listening on http://{args.host}:{args.port}/v2", flush=True)
    server.run()


if __name__ == "__main__":
    main()
