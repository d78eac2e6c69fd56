"""moto's server, one request at a time.

moto_server answers requests on threads, and its DynamoDB transactions are not isolated from
each other: a cancelled TransactWriteItems restores a copy of the whole table taken when it
began, undoing whatever another transaction committed meanwhile. DynamoDB itself serializes
conflicting transactions, so the suite runs moto without threads to test against that.
Every response closes its connection: one thread cannot wait on a client's idle keep-alive
connection while others queue.

Its `/moto-api/data.json` (where the mail tests find SES' sent messages) skips a model property
that cannot be read as JSON: moto skips those raising TypeError, AttributeError or ValueError,
but an RDS instance's write-only properties raise NotImplementedError, which broke the whole
document once any test had created a database.

usage: python moto_serial.py HOST PORT
"""

import sys

import json

from moto.moto_api._internal import urls as moto_api_urls
from moto.moto_api._internal.responses import MotoAPIResponse

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def model_data(self, request, full_url, headers):
    from moto.core.model_instances import model_data as tracked

    results = {}
    for service in sorted(tracked):
        results[service] = {}
        for name in sorted(tracked[service]):
            results[service][name] = []
            for instance in tracked[service][name].instances_tracked:
                readable = {}
                for attr in dir(instance):
                    if attr.startswith("_"):
                        continue
                    try:
                        value = getattr(instance, attr)
                        json.dumps(value)
                    except Exception:
                        continue
                    readable[attr] = value
                results[service][name].append(readable)
    return 200, {"Content-Type": "application/javascript"}, json.dumps(results)


MotoAPIResponse.model_data = model_data
moto_api_urls.url_paths["{0}/moto-api/data.json"] = moto_api_urls.response_instance.model_data


class OneRequestPerConnection(MotoRequestHandler):
    protocol_version = "HTTP/1.0"


host, port = sys.argv[1], int(sys.argv[2])
run_simple(
    host,
    port,
    DomainDispatcherApplication(create_backend_app),
    threaded=False,
    request_handler=OneRequestPerConnection,
)
