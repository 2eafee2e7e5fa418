"""Signet runtime bootstrap for Python functions.

Run as ``/usr/bin/python3 -u /var/runtime/bootstrap.py``. It speaks the AWS
Lambda Runtime API (``AWS_LAMBDA_RUNTIME_API``) the way the managed Python
runtime does, so that unmodified handlers behave as they do on AWS:

* the handler named by ``_HANDLER`` ("module.function", the module part may
  be a path such as "src/app") is imported from ``LAMBDA_TASK_ROOT``, with
  the layer directories under /opt/python after it on ``sys.path``;
* failures to load it are reported to ``/runtime/init/error`` with AWS's
  error types (Runtime.ImportModuleError, Runtime.HandlerNotFound, ...) and
  the process exits with status 1;
* each event is passed to ``handler(event, context)``; the JSON of the
  return value is the response, an exception becomes an "Unhandled" error
  whose body has AWS's shape (errorMessage, errorType, requestId,
  stackTrace);
* the root logger writes "[LEVEL]\\t<time>Z\\t<request id>\\t<message>" lines
  to stdout, and errors are logged in AWS's format.

Only the standard library is used. The per-invocation path reuses one
keep-alive HTTP connection and does no imports.
"""

import decimal
import http.client
import importlib
import json
import logging
import math
import os
import sys
import time
import traceback
from urllib.parse import quote

# ---------------------------------------------------------------------------
# Constants

_API_PREFIX = "/2018-06-01/runtime"
_NEXT_PATH = _API_PREFIX + "/invocation/next"
_INIT_ERROR_PATH = _API_PREFIX + "/init/error"
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"

# Error types, as the AWS Python runtime names them.
_IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
_HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
_MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
_BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
_USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
_MARSHAL_ERROR = "Runtime.MarshalError"
_UNMARSHAL_ERROR = "Runtime.UnmarshalError"
_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

# AWS logs an error report as one record: its lines are joined with "\r"
# (so a line-oriented log collector keeps them together) and the
# indentation of stack frames uses NO-BREAK SPACE.
_ERROR_LINE_SEPARATOR = "\r"
_ERROR_INDENT = "\u00a0"

# AWS_LAMBDA_LOG_LEVEL values and the logging levels they select.
_LOG_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
    "CRITICAL": logging.CRITICAL,
}

# The request being handled, for log records; "" outside an invocation.
_request_id = ""


class FaultError(Exception):
    """A failure the runtime reports with its own error type, rather than
    the type of a user exception."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


class RuntimeAPIError(Exception):
    """The Runtime API failed; the runtime cannot go on."""


# ---------------------------------------------------------------------------
# Runtime API client


class RuntimeAPIClient:
    """A client of the Runtime API over one keep-alive HTTP/1.1 connection."""

    def __init__(self, address):
        # HTTPConnection parses "host:port" (and "[v6addr]:port") itself.
        # No timeout: /next legitimately blocks until there is an event.
        self._conn = http.client.HTTPConnection(address)

    def _request(self, method, path, body=None, headers=None):
        """Sends one request and returns (status, response, body bytes).

        A keep-alive connection the server has meanwhile closed is
        reopened once; a failure on a fresh connection is final.
        """
        conn = self._conn
        for attempt in (0, 1):
            reused = conn.sock is not None
            try:
                conn.request(method, path, body, headers or {})
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, resp, data
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError, http.client.CannotSendRequest,
                    http.client.ResponseNotReady):
                conn.close()
                if not reused or attempt:
                    raise
        raise AssertionError("unreachable")

    def next_invocation(self):
        status, resp, body = self._request("GET", _NEXT_PATH)
        if status != 200:
            raise RuntimeAPIError(
                "GET %s returned HTTP %d: %r" % (_NEXT_PATH, status, body[:1024]))
        return resp, body

    def post_response(self, request_id, body, content_type):
        path = "%s/invocation/%s/response" % (_API_PREFIX, quote(request_id, safe=""))
        self._post(path, body, {"Content-Type": content_type})

    def post_error(self, request_id, error):
        path = "%s/invocation/%s/error" % (_API_PREFIX, quote(request_id, safe=""))
        self._post(path, _encode_error(error), {
            "Content-Type": "application/json",
            _ERROR_TYPE_HEADER: "Unhandled",
        })

    def post_init_error(self, error):
        self._post(_INIT_ERROR_PATH, _encode_error(error), {
            "Content-Type": "application/json",
            _ERROR_TYPE_HEADER: error["errorType"] or "Unknown",
        })

    def _post(self, path, body, headers):
        status, _, data = self._request("POST", path, body, headers)
        if not 200 <= status < 300:
            # The platform has refused the result (too large, unknown
            # request, ...) and has recorded the failure itself; going on
            # to the next event is all the runtime can do.
            sys.stderr.write("bootstrap: POST %s returned HTTP %d: %s\n"
                             % (path, status, data[:1024].decode("utf-8", "replace")))


def _encode_error(error):
    return json.dumps(error).encode("utf-8")


# ---------------------------------------------------------------------------
# Serialisation of events and results


def _json_default(obj):
    """Encodes what the AWS runtime's encoder accepts beyond plain JSON."""
    if isinstance(obj, decimal.Decimal):
        # AWS writes Decimals as JSON numbers (DynamoDB returns them).
        if obj.is_nan():
            return math.nan
        if obj == obj.to_integral_value() and obj.as_tuple().exponent >= 0:
            return int(obj)
        return float(obj)
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


_result_encoder = json.JSONEncoder(default=_json_default)


def _marshal_result(result):
    """Returns the body and content type of the response for result."""
    if isinstance(result, bytes):
        return result, "application/unknown"
    try:
        return _result_encoder.encode(result).encode("utf-8"), "application/json"
    except Exception as e:
        raise FaultError(_MARSHAL_ERROR, "Unable to marshal response: %s" % e)


def _unmarshal_event(body):
    try:
        return json.loads(body)
    except Exception as e:
        raise FaultError(_UNMARSHAL_ERROR, "Unable to unmarshal input: %s" % e)


# ---------------------------------------------------------------------------
# The context object


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, fields):
        self.cognito_identity_id = fields.get("cognitoIdentityId")
        self.cognito_identity_pool_id = fields.get("cognitoIdentityPoolId")

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id, self.cognito_identity_pool_id)


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name",
                 "app_version_code", "app_package_name")

    def __init__(self, fields):
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    def __repr__(self):
        return "Client([%s])" % ",".join(
            "%s=%s" % (name, getattr(self, name)) for name in self.__slots__)


class ClientContext:
    __slots__ = ("custom", "env", "client")

    def __init__(self, fields):
        self.custom = fields.get("custom")
        self.env = fields.get("env")
        client = fields.get("client")
        self.client = Client(client) if isinstance(client, dict) else client

    def __repr__(self):
        return "ClientContext([custom=%s,env=%s,client=%s])" % (
            self.custom, self.env, self.client)


class LambdaContext:
    """The context argument of a handler, with the attributes of AWS's."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn,
                 client_context, identity, tenant_id, environ=os.environ):
        self.aws_request_id = request_id
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
        # A string, as on AWS (the variable's value, e.g. "128").
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = ClientContext(client_context) if client_context is not None else None
        # Always an object; its fields are None without a Cognito identity.
        self.identity = CognitoIdentity(identity or {})
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        remaining = self._deadline_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return ("LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,"
                "function_name=%s,memory_limit_in_mb=%s,function_version=%s,"
                "invoked_function_arn=%s,client_context=%s,identity=%s,tenant_id=%s])" % (
                    self.aws_request_id, self.log_group_name, self.log_stream_name,
                    self.function_name, self.memory_limit_in_mb, self.function_version,
                    self.invoked_function_arn, self.client_context, self.identity,
                    self.tenant_id))


def _parse_json_header(value, name):
    try:
        return json.loads(value)
    except Exception as e:
        raise FaultError(_CONTEXT_UNMARSHAL_ERROR, "Unable to parse %s JSON: %s" % (name, e))


# ---------------------------------------------------------------------------
# Errors and their reports


def _make_error(message, error_type, stack_trace, request_id=None):
    """An error body in the shape the AWS Python runtime posts."""
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace or [],
    }


def _safe_str(value):
    try:
        return str(value)
    except Exception:
        return "<unprintable %s object>" % type(value).__name__


def _exception_error(exc_info, request_id=None):
    """The error body for an exception raised by user code: the frames of
    the bootstrap itself at the top of the traceback are left out.

    Like AWS, the frames are reduced to (file, line, function, source)
    before formatting, so Python 3.11's column markers ("^^^^") are not
    part of the trace."""
    etype, value, tb = exc_info
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, frame in enumerate(frames):
        if frame[0] != _BOOTSTRAP_FILE:
            frames = frames[i:]
            break
    return _make_error(_safe_str(value), etype.__name__,
                       traceback.format_list(frames), request_id)


def _fault_error(fault, request_id=None):
    return _make_error(fault.message, fault.error_type, fault.trace, request_id)


def _indent_with_nbsp(line):
    stripped = line.lstrip(" ")
    return _ERROR_INDENT * (len(line) - len(stripped)) + stripped


def _log_error(error):
    """Writes an error report to stdout in the AWS text format, e.g.
    "[ERROR] Exception: boom\\rTraceback (most recent call last):\\r..."."""
    description = "[ERROR]"
    if error["errorType"]:
        description += " " + error["errorType"]
    if error["errorMessage"]:
        if error["errorType"]:
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description, "Traceback (most recent call last):"]
    for element in error["stackTrace"]:
        if element == "":
            lines.append("")
        else:
            lines.extend(_indent_with_nbsp(line) for line in element.splitlines())
    try:
        sys.stdout.write(_ERROR_LINE_SEPARATOR.join(lines) + "\n")
    except Exception:
        pass


# ---------------------------------------------------------------------------
# Logging


class _LambdaLogHandler(logging.Handler):
    """Writes formatted records to stdout, as the AWS runtime does."""

    def emit(self, record):
        try:
            sys.stdout.write(self.format(record))
        except Exception:
            self.handleError(record)


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _request_id
        return True


def _setup_logging():
    # Like AWS: every formatter in the process shows UTC.
    logging.Formatter.converter = time.gmtime
    handler = _LambdaLogHandler()
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
        "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    level = _LOG_LEVELS.get(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper())
    if level is not None:
        root.setLevel(level)  # otherwise the default, WARNING
    root.addHandler(handler)


def _flush_output():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


# ---------------------------------------------------------------------------
# Loading the handler


def _setup_sys_path(task_root):
    """Puts the function's code, then the layers' Python directories, ahead
    of everything else on sys.path, in the order AWS uses."""
    version = "python%d.%d" % sys.version_info[:2]
    entries = [task_root, "/opt/python/lib/%s/site-packages" % version, "/opt/python"]
    for entry in entries:
        while entry in sys.path:
            sys.path.remove(entry)
    sys.path[0:0] = entries


class _EndpointFromEnvironment:
    """Makes botocore clients honour AWS_ENDPOINT_URL (and the per-service
    AWS_ENDPOINT_URL_<SERVICE>) when the botocore installed is older than
    1.31, which reads them itself: Signet's sandboxes reach its APIs only
    through that endpoint. It patches botocore.session when the function
    first imports it, so functions that do not use the SDK pay nothing."""

    def find_spec(self, name, path=None, target=None):
        if name != "botocore.session":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def patched(module):
            exec_module(module)
            _patch_create_client(module)

        loader.exec_module = patched
        return spec


def _patch_create_client(module):
    try:
        import botocore
        version = tuple(int(p) for p in botocore.__version__.split(".")[:2])
    except Exception:
        return
    if version >= (1, 31):
        return  # it reads the variables itself
    original = module.Session.create_client

    def create_client(self, service_name, *args, **kwargs):
        if kwargs.get("endpoint_url") is None and (len(args) < 5 or args[4] is None):
            env = "AWS_ENDPOINT_URL_" + service_name.upper().replace("-", "_")
            url = os.environ.get(env) or os.environ.get("AWS_ENDPOINT_URL")
            if url:
                kwargs["endpoint_url"] = url
        return original(self, service_name, *args, **kwargs)

    module.Session.create_client = create_client


def _setup_endpoint():
    if os.environ.get("AWS_ENDPOINT_URL"):
        import importlib.util  # noqa: F401 (used by the finder)
        sys.meta_path.insert(0, _EndpointFromEnvironment())


def _load_handler(handler_name):
    """Imports the module of handler_name and returns the handler; raises
    FaultError for the failures AWS reports with a Runtime.* type."""
    try:
        module_name, function_name = handler_name.rsplit(".", 1)
    except ValueError as e:
        raise FaultError(_MALFORMED_HANDLER_NAME, "Bad handler '%s': %s" % (handler_name, e))

    if module_name.split(".")[0] in sys.builtin_module_names:
        raise FaultError(_BUILT_IN_MODULE_CONFLICT,
                         "Cannot use built-in module %s as a handler module" % module_name)
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise FaultError(_IMPORT_MODULE_ERROR,
                         "Unable to import module '%s': %s" % (module_name, e))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultError(_USER_CODE_SYNTAX_ERROR,
                         "Syntax error in module '%s': %s" % (module_name, e), trace)

    try:
        return getattr(module, function_name)
    except AttributeError:
        raise FaultError(_HANDLER_NOT_FOUND,
                         "Handler '%s' missing on module '%s'" % (function_name, module_name))


# ---------------------------------------------------------------------------
# The invocation loop


def _handle(client, handler, resp, body):
    """Runs one invocation and posts its result or error."""
    global _request_id
    headers = resp.headers
    request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
    if not request_id:
        raise RuntimeAPIError("the invocation has no Lambda-Runtime-Aws-Request-Id header")
    _request_id = request_id

    trace_id = headers.get("Lambda-Runtime-Trace-Id")
    if trace_id is not None:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    elif "_X_AMZN_TRACE_ID" in os.environ:
        del os.environ["_X_AMZN_TRACE_ID"]

    error = None
    try:
        deadline = headers.get("Lambda-Runtime-Deadline-Ms")
        client_context = headers.get("Lambda-Runtime-Client-Context")
        identity = headers.get("Lambda-Runtime-Cognito-Identity")
        context = LambdaContext(
            request_id,
            int(deadline) if deadline else 0,
            headers.get("Lambda-Runtime-Invoked-Function-Arn"),
            _parse_json_header(client_context, "Client Context") if client_context else None,
            _parse_json_header(identity, "Cognito Identity") if identity else None,
            headers.get("Lambda-Runtime-Aws-Tenant-Id"),
        )
        event = _unmarshal_event(body)
        result, content_type = _marshal_result(handler(event, context))
    except FaultError as fault:
        error = _fault_error(fault, request_id)
    except Exception:
        error = _exception_error(sys.exc_info(), request_id)

    # The output of the invocation goes ahead of its result.
    if error is not None:
        _log_error(error)
        _flush_output()
        client.post_error(request_id, error)
    else:
        _flush_output()
        client.post_response(request_id, result, content_type)


def _init(client):
    """Sets up the process and loads the handler; on failure reports an
    init error and exits with status 1."""
    _setup_logging()
    _setup_sys_path(os.environ.get("LAMBDA_TASK_ROOT") or "/var/task")
    _setup_endpoint()
    try:
        return _load_handler(os.environ.get("_HANDLER", ""))
    except FaultError as fault:
        error = _fault_error(fault)
    except Exception:
        error = _exception_error(sys.exc_info())
    _log_error(error)
    _flush_output()
    client.post_init_error(error)
    _flush_output()
    # os._exit: threads the user's code may have started must not keep a
    # failed runtime alive.
    os._exit(1)


def main():
    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        raise RuntimeAPIError("AWS_LAMBDA_RUNTIME_API is not set")
    # Without -u, make output reach the pipe as it is written anyway.
    for stream in (sys.stdout, sys.stderr):
        if not getattr(stream, "write_through", True):
            try:
                stream.reconfigure(write_through=True)
            except Exception:
                pass
    client = RuntimeAPIClient(address)
    handler = _init(client)
    while True:
        resp, body = client.next_invocation()
        _handle(client, handler, resp, body)


_BOOTSTRAP_FILE = main.__code__.co_filename

if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        # The Runtime API is unreachable or misbehaving (a handler's own
        # exceptions never get here). SystemExit from user code passes by.
        _flush_output()
        try:
            sys.stderr.write("bootstrap: fatal: %s: %s\n" % (type(e).__name__, e))
            sys.stderr.flush()
        finally:
            os._exit(1)
