"""A local stand-in for Nomad's HTTP API that checks every request as a Nomad server would.

There is no Nomad binary on these machines. Request bodies are decoded against the types of
Nomad's Go API (nomad_api_types.py: Job, TaskGroup, Task, Service, ServiceCheck, CheckRestart,
UpdateStrategy, PeriodicConfig, ParameterizedJobConfig, ScalingRequest, JobDispatchRequest,
Variable, ACLPolicy), and each endpoint makes the checks its handler and RPC make
(command/agent/*_endpoint.go, nomad/job_endpoint.go):

- /v1/jobs/parse decodes the HCL2 jobspec into an api.Job the way jobspec2 does (an unknown
  argument or block, an unparsable duration or an unconvertible value answers 400); a
  variable the jobspec does not declare is only a warning there, as on a real server;
- /v1/jobs needs Job.ID; /v1/job/<id>/scale needs Target.Group naming a group of the job, a
  non-negative integer Count (not with Error), and Target.Job, when given, matching the URL;
- /v1/job/<id>/dispatch applies the job's parameterized rules (payload forbidden/required,
  required and permitted meta keys), answering 500 as Nomad does for those;
- /v1/var/<path> needs Items; /v1/acl/policy/<name> needs Name to match the path.

Errors are answered as Nomad answers them and recorded in `errors`; what Nomad would accept
but silently ignore (an unknown or miscased JSON field, an undeclared variable) is recorded in
`warnings`. The tests assert both lists are empty.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import hcl2
from nomad_api_types import JobspecError, check_json, convert, decode_job

# HCL2 variable types the jobspecs declare, as nomad_api_types.convert types.
_VARIABLE_TYPES: dict[str, Any] = {
    "string": "string",
    "number": "number",
    "bool": "bool",
    "list(string)": ("list", "string"),
    "map(string)": ("map", "string"),
}


class NomadError(Exception):
    """An error answer: the HTTP status Nomad uses and its message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_job(request: dict[str, Any], warnings: list[str] | None = None) -> dict[str, Any]:
    """The api.Job /v1/jobs/parse answers for a JobsParseRequest (JobspecError if jobspec2
    would refuse it). Values set for undeclared variables go to `warnings`."""
    spec = hcl2.loads(request["JobHCL"])
    declared: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for entry in spec.get("variable", []):
        for name, body in entry.items():
            type_name = (body.get("type") or "").strip("${}")
            declared[name] = _VARIABLE_TYPES.get(type_name, "any")
            values[name] = body.get("default")
    for name, value in hcl2.loads(request.get("Variables") or "").items():
        if name not in declared:
            if warnings is not None:
                warnings.append(f"variable {name!r} is set but not declared; Nomad ignores it")
            continue
        values[name] = convert(value, declared[name], f"variable {name!r}")
    return decode_job(spec, values)


@dataclass
class FakeNomad:
    """State of the fake cluster: job versions (oldest first) and every request seen."""

    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    variables: dict[str, dict[str, str]] = field(default_factory=dict)
    dispatched: dict[str, dict[str, Any]] = field(default_factory=dict)
    url: str = ""

    def register(self, job: dict[str, Any], stable: bool = True) -> dict[str, Any]:
        history = self.versions.setdefault(job["ID"], [])
        version = {**job, "Version": len(history), "Stable": stable}
        history.append(version)
        return version

    def job(self, job_id: str) -> dict[str, Any]:
        if job_id not in self.versions:
            raise NomadError(404, f"job {job_id!r} not found")
        return self.versions[job_id][-1]

    def scale(self, job_id: str, request: dict[str, Any]) -> None:
        target = request.get("Target") or {}
        if target.get("Job") and target["Job"] != job_id:
            raise NomadError(400, "job ID in payload did not match URL")
        group = target.get("Group", "")
        if not group:
            raise NomadError(400, "missing task group name for scaling action")
        count = request.get("Count")
        if count is not None and count < 0:
            raise NomadError(400, "scaling action count can't be negative")
        if count is not None and request.get("Error"):
            raise NomadError(400, "scaling action should not contain count if error is true")
        current = dict(self.job(job_id))
        if group not in [g["Name"] for g in current.get("TaskGroups") or []]:
            raise NomadError(400, f"task group {group!r} specified for scaling does not exist")
        if count is not None:
            current["TaskGroups"] = [
                {**g, "Count": count} if g["Name"] == group else g for g in current["TaskGroups"]
            ]
            self.register(current)

    def dispatch(self, job_id: str, request: dict[str, Any]) -> str:
        if request.get("JobID") and request["JobID"] != job_id:
            raise NomadError(400, "Job ID does not match")
        if job_id not in self.versions:
            raise NomadError(500, "parameterized job not found")
        rules = self.job(job_id).get("ParameterizedJob")
        if rules is None:
            raise NomadError(500, f"Specified job {job_id!r} is not a parameterized job")
        payload = base64.b64decode(request.get("Payload") or "")
        if rules.get("Payload") == "required" and not payload:
            raise NomadError(500, "Payload is not provided but required by parameterized job")
        if rules.get("Payload") == "forbidden" and payload:
            raise NomadError(500, "Payload provided but forbidden by parameterized job")
        meta = request.get("Meta") or {}
        required = set(rules.get("MetaRequired") or [])
        permitted = required | set(rules.get("MetaOptional") or [])
        if unpermitted := sorted(set(meta) - permitted):
            raise NomadError(
                500, f"Dispatch request included unpermitted metadata keys: {unpermitted}"
            )
        if missing := sorted(required - set(meta)):
            raise NomadError(500, f"Dispatch did not provide required meta keys: {missing}")
        child = f"{job_id}/dispatch-{int(time.time())}-{secrets.token_hex(4)}"
        self.dispatched[child] = {"Meta": meta, "Payload": payload}
        return child

    def posted(self, path_prefix: str) -> list[Any]:
        return [
            body
            for method, path, body in self.requests
            if method != "GET" and path.startswith(path_prefix)
        ]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _reply(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _body(self, type_name: str) -> Any:
        """The request body decoded as Go would decode it into `type_name`."""
        length = int(self.headers.get("Content-Length") or 0)
        nomad = self.server.nomad
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except json.JSONDecodeError as error:
            raise NomadError(400, str(error)) from None
        nomad.requests.append((self.command, self.path, body))
        if body is None:
            raise NomadError(400, "Request body is empty")
        found = check_json(body, type_name)
        nomad.warnings += [f"{self.command} {self.path}: {w}" for w in found.warnings]
        if found.errors:
            raise NomadError(400, "; ".join(found.errors))
        return body

    def do_GET(self) -> None:
        nomad = self.server.nomad
        nomad.requests.append(("GET", self.path, None))
        path = urllib.parse.unquote(self.path.split("?")[0])
        if path in ("/health", "/ready"):
            self._reply(200, {"status": "ok"})
            return
        # Job ids of dispatched children contain a slash: "<parent>/dispatch-<time>-<id>".
        match = re.fullmatch(r"/v1/job/(.+?)(/versions|/deployment|/allocations)?", path)
        job_id = match.group(1) if match else ""
        parent = job_id.split("/")[0]
        if parent not in nomad.versions:
            self._reply(404, {"error": "job not found"})
            return
        what = match.group(2) if match else None
        history = nomad.versions[parent]
        if what is None:
            self._reply(200, history[-1])
        elif what == "/versions":
            self._reply(200, {"Versions": list(reversed(history)), "Diffs": None})
        elif what == "/deployment":
            self._reply(
                200,
                {
                    "JobVersion": history[-1]["Version"],
                    "Status": "successful",
                    "StatusDescription": "Deployment completed successfully",
                },
            )
        elif job_id in nomad.dispatched:
            self._reply(200, [{"ID": "alloc-1", "ClientStatus": "complete"}])
        else:  # scaled to zero: nothing runs any more
            self._reply(200, [])

    def _post(self) -> None:
        path = urllib.parse.unquote(self.path.split("?")[0])
        nomad = self.server.nomad
        try:
            if path == "/v1/jobs/parse":
                request = self._body("JobsParseRequest")
                if not request.get("JobHCL"):
                    raise NomadError(400, "Job spec is empty")
                try:
                    self._reply(200, parse_job(request, nomad.warnings))
                except (JobspecError, ValueError, KeyError) as error:
                    raise NomadError(400, f"Failed to parse job: {error}") from None
            elif path == "/v1/jobs":
                job = self._body("JobRegisterRequest").get("Job")
                if job is None:
                    raise NomadError(400, "Job must be specified")
                if job.get("ID") is None:
                    raise NomadError(400, "Job ID hasn't been provided")
                version = nomad.register(job)
                self._reply(200, {"EvalID": "eval-1", "JobModifyIndex": version["Version"]})
            elif match := re.fullmatch(r"/v1/job/([^/]+)/scale", path):
                nomad.scale(match.group(1), self._body("ScalingRequest"))
                self._reply(200, {"EvalID": "eval-2"})
            elif match := re.fullmatch(r"/v1/job/([^/]+)/dispatch", path):
                child = nomad.dispatch(match.group(1), self._body("JobDispatchRequest"))
                self._reply(200, {"DispatchedJobID": child, "EvalID": "eval-3"})
            elif match := re.fullmatch(r"/v1/var/(.+)", path):
                variable = self._body("Variable")
                if not variable.get("Items"):
                    raise NomadError(400, "variable missing required Items object")
                nomad.variables[match.group(1)] = variable["Items"]
                self._reply(200, {**variable, "Path": match.group(1)})
            elif match := re.fullmatch(r"/v1/acl/policy/([^/]+)", path):
                if self._body("ACLPolicy").get("Name") != match.group(1):
                    raise NomadError(400, "ACL policy name does not match request path")
                self._reply(200, None)
            else:
                self._reply(404, {"error": f"no route {path}"})
        except NomadError as error:
            nomad.errors.append(f"{self.command} {self.path}: {error.status} {error}")
            self._reply(error.status, {"error": str(error)})

    do_POST = _post
    do_PUT = _post


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    nomad: FakeNomad


@contextmanager
def fake_nomad() -> Iterator[FakeNomad]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.nomad = FakeNomad(url=f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.nomad
    finally:
        server.shutdown()
        server.server_close()
