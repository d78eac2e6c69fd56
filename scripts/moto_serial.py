"""moto's server, one request at a time.

moto_server answers requests on threads, and its DynamoDB transactions are not isolated from
each other: a cancelled TransactWriteItems restores a copy of the whole table taken when it
began, undoing whatever another transaction committed meanwhile. DynamoDB itself serializes
conflicting transactions, so the suite runs moto without threads to test against that.
Every response closes its connection: one thread cannot wait on a client's idle keep-alive
connection while others queue.

usage: python moto_serial.py HOST PORT
"""

import sys

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


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
