"""A local stand-in for Nomad's HTTP API that type-checks every request body.

There is no Nomad binary on these machines. The shapes below are the request types of
Nomad's Go API package (`api/`: jobs.go JobsParseRequest, JobRegisterRequest, Job,
TaskGroup, JobDispatchRequest; scaling.go ScalingRequest; variables.go Variable; acl.go
ACLPolicy, JobACL), field for field with their JSON types: a Go `*int`/`int64` must be a JSON
integer, `map[string]string` an object of strings, and so on. An unknown field, a wrong type
or a missing required field answers 400 as Nomad's decoder would fail, and is recorded in
`errors` so a test can show it.

Jobspecs are parsed with python-hcl2 for the few fields the roles read back (ID, Type, the
groups' Count, Meta.image_tag); the variables file the role sends must parse and only set
variables the jobspec declares, with values of the declared type.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import hcl2

# Type language: "string", "bool", "int", "number", ("list", T), ("map", T), or a struct
# {field: (T, required)}.
Shape = Any
JOB_ACL: Shape = {
    "Namespace": ("string", False),
    "JobID": ("string", False),
    "Group": ("string", False),
    "Task": ("string", False),
}
SHAPES: dict[str, Shape] = {
    "JobsParseRequest": {
        "JobHCL": ("string", True),
        "HCLv1": ("bool", False),
        "Variables": ("string", False),
        "Canonicalize": ("bool", False),
    },
    "JobRegisterRequest": {
        "Job": ("Job", True),
        "EnforceIndex": ("bool", False),
        "JobModifyIndex": ("int", False),
        "PolicyOverride": ("bool", False),
        "PreserveCounts": ("bool", False),
    },
    "Job": {
        "ID": ("string", True),
        "Name": ("string", False),
        "Type": ("string", False),
        "Datacenters": (("list", "string"), False),
        "TaskGroups": (("list", "TaskGroup"), False),
        "Meta": (("map", "string"), False),
        "Version": ("int", False),
        "Stable": ("bool", False),
    },
    "TaskGroup": {"Name": ("string", True), "Count": ("int", False)},
    "JobDispatchRequest": {
        "JobID": ("string", False),
        "Payload": ("string", False),
        "Meta": (("map", "string"), False),
    },
    "ScalingRequest": {
        "Count": ("int", False),
        "Target": (("map", "string"), True),
        "Message": ("string", False),
        "Error": ("bool", False),
        "PolicyOverride": ("bool", False),
    },
    "Variable": {
        "Namespace": ("string", False),
        "Path": ("string", True),
        "Items": (("map", "string"), True),
    },
    "ACLPolicy": {
        "Name": ("string", True),
        "Description": ("string", False),
        "Rules": ("string", True),
        "JobACL": (JOB_ACL, False),
    },
}


def type_errors(value: Any, shape: Shape, where: str = "$") -> list[str]:
    """Every place `value` does not match `shape`."""
    if isinstance(shape, str) and shape in SHAPES:
        shape = SHAPES[shape]
    if shape == "string":
        return [] if isinstance(value, str) else [f"{where}: expected a string, got {value!r}"]
    if shape == "bool":
        return [] if isinstance(value, bool) else [f"{where}: expected a bool, got {value!r}"]
    if shape == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected an integer, got {value!r}"]
    if isinstance(shape, tuple) and shape[0] == "list":
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {value!r}"]
        return [
            e for i, item in enumerate(value) for e in type_errors(item, shape[1], f"{where}[{i}]")
        ]
    if isinstance(shape, tuple) and shape[0] == "map":
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {value!r}"]
        return [e for k, item in value.items() for e in type_errors(item, shape[1], f"{where}.{k}")]
    if not isinstance(value, dict):
        return [f"{where}: expected an object, got {value!r}"]
    errors = [f"{where}.{name}: unknown field" for name in value if name not in shape]
    for name, (field_shape, required) in shape.items():
        if name in value and value[name] is not None:
            errors += type_errors(value[name], field_shape, f"{where}.{name}")
        elif required:
            errors.append(f"{where}.{name}: required")
    return errors


_VARIABLE_TYPES = {"string": "string", "number": "number", "list(string)": ("list", "string")}


def _declared_variables(spec: dict[str, Any]) -> dict[str, Any]:
    declared = {}
    for entry in spec.get("variable", []):
        for name, body in entry.items():
            declared[name] = (body["type"] or "").strip("${}")
    return declared


def _value_matches(value: Any, declared: str) -> bool:
    if declared == "string":
        return isinstance(value, str)
    if declared == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if declared == "list(string)":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if declared == "map(string)":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    return False


def parse_job(request: dict[str, Any]) -> dict[str, Any]:
    """api.Job for a JobsParseRequest, after checking its variables against the jobspec."""
    spec = hcl2.loads(request["JobHCL"])
    declared = _declared_variables(spec)
    given = hcl2.loads(request.get("Variables") or "")
    problems = [
        f"variable {name!r}: {value!r} is not a {declared.get(name)}"
        for name, value in given.items()
        if name not in declared or not _value_matches(value, declared[name])
    ]
    if problems:
        raise ValueError("; ".join(problems))
    values = {
        name: body.get("default")
        for entry in spec.get("variable", [])
        for name, body in entry.items()
    } | given

    def resolve(raw: Any) -> Any:
        match = re.fullmatch(r"\$\{var\.(\w+)\}", raw) if isinstance(raw, str) else None
        return values[match.group(1)] if match else raw

    ((job_id, job),) = spec["job"][0].items()
    groups = [
        {"Name": name, "Count": int(resolve(body.get("count", 1)))}
        for entry in job.get("group", [])
        for name, body in entry.items()
    ]
    meta = {k: str(resolve(v)) for m in job.get("meta", []) for k, v in m.items()}
    return {
        "ID": job_id,
        "Name": job_id,
        "Type": job.get("type", "service"),
        "Datacenters": resolve(job.get("datacenters", ["*"])),
        "TaskGroups": groups,
        "Meta": meta,
    }


@dataclass
class FakeNomad:
    """State of the fake cluster: job versions (oldest first) and every request seen."""

    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    variables: dict[str, dict[str, str]] = field(default_factory=dict)
    url: str = ""

    def register(self, job: dict[str, Any], stable: bool = True) -> dict[str, Any]:
        history = self.versions.setdefault(job["ID"], [])
        version = {**job, "Version": len(history), "Stable": stable}
        history.append(version)
        return version

    def scale(self, job_id: str, group: str, count: int) -> None:
        current = dict(self.versions[job_id][-1])
        current["TaskGroups"] = [
            {**g, "Count": count} if g["Name"] == group else g for g in current["TaskGroups"]
        ]
        self.register(current)

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

    def _body(self, shape: str) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        nomad = self.server.nomad
        nomad.requests.append((self.command, self.path, body))
        problems = type_errors(body, shape)
        if problems:
            nomad.errors += [f"{self.command} {self.path}: {p}" for p in problems]
            raise ValueError("; ".join(problems))
        return body

    def do_GET(self) -> None:
        nomad = self.server.nomad
        nomad.requests.append(("GET", self.path, None))
        path = self.path.split("?")[0]
        if path in ("/health", "/ready"):
            self._reply(200, {"status": "ok"})
            return
        # Job ids of dispatched children contain a slash: "<parent>/dispatch-<n>".
        match = re.fullmatch(r"/v1/job/(.+?)(/versions|/deployment|/allocations)?", path)
        job_id = urllib.parse.unquote(match.group(1)) if match else ""
        if job_id.split("/")[0] not in nomad.versions:
            self._reply(404, {"error": "job not found"})
            return
        what = match.group(2) if match else None
        history = nomad.versions[job_id.split("/")[0]]
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
        elif "/" in job_id:  # a dispatched child of a parameterized job
            self._reply(200, [{"ID": "alloc-1", "ClientStatus": "complete"}])
        else:  # scaled to zero: nothing runs any more
            self._reply(200, [])

    def _post(self) -> None:
        path = self.path.split("?")[0]
        nomad = self.server.nomad
        try:
            if path == "/v1/jobs/parse":
                self._reply(200, parse_job(self._body("JobsParseRequest")))
            elif path == "/v1/jobs":
                job = self._body("JobRegisterRequest")["Job"]
                version = nomad.register(job)
                self._reply(200, {"EvalID": "eval-1", "JobModifyIndex": version["Version"]})
            elif match := re.fullmatch(r"/v1/job/([^/]+)/scale", path):
                request = self._body("ScalingRequest")
                nomad.scale(match.group(1), request["Target"]["Group"], request["Count"])
                self._reply(200, {"EvalID": "eval-2"})
            elif match := re.fullmatch(r"/v1/job/([^/]+)/dispatch", path):
                self._body("JobDispatchRequest")
                child = f"{match.group(1)}/dispatch-1"
                self._reply(200, {"DispatchedJobID": child, "EvalID": "eval-3"})
            elif match := re.fullmatch(r"/v1/var/(.+)", path):
                variable = self._body("Variable")
                nomad.variables[match.group(1)] = variable["Items"]
                self._reply(200, variable)
            elif re.fullmatch(r"/v1/acl/policy/[^/]+", path):
                self._body("ACLPolicy")
                self._reply(200, None)
            else:
                self._reply(404, {"error": f"no route {path}"})
        except (ValueError, KeyError) as error:
            self._reply(400, {"error": str(error)})

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
