"""Creates the users the wrk runs of benches/compare/run read and patch.

    python3 provision.py URL_BASE TOKEN COUNT PREFIX > ids

POSTs COUNT users named PREFIX-<i>@example.com to URL_BASE/Users (e.g.
http://127.0.0.1:8080/scim/v2) over one keep-alive connection and prints
their ids, one a line, in order. Any answer but 201 with an id is an error
(exit 1, with the answer on stderr). Standard library only.
"""

import http.client
import json
import sys
import urllib.parse


def main() -> int:
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    base, token, count, prefix = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/scim+json",
        "Accept": "application/scim+json",
    }
    for i in range(count):
        name = f"{prefix}-{i}@example.com"
        body = json.dumps(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                "externalId": f"ext-{name}",
                "name": {"givenName": "Bench", "familyName": f"User {i}"},
                "displayName": f"Bench User {i}",
                "emails": [{"value": name, "type": "work", "primary": True}],
                "active": True,
            }
        )
        try:
            conn.request("POST", f"{url.path}/Users", body, headers)
            response = conn.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException):
            # A server that closes after each answer (no keep-alive): reconnect once.
            conn.close()
            conn.request("POST", f"{url.path}/Users", body, headers)
            response = conn.getresponse()
            answer = response.read()
        if response.will_close:
            conn.close()
        if response.status != 201:
            print(f"POST {base}/Users {name}: {response.status} {answer[:300]!r}", file=sys.stderr)
            return 1
        user_id = json.loads(answer).get("id")
        if not user_id:
            print(f"POST {base}/Users {name}: 201 without an id", file=sys.stderr)
            return 1
        print(user_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
