"""The request types of Nomad's HTTP API and the jobspec -> api.Job decoding, for fake_nomad.

Field names, jobspec names and types follow hashicorp/nomad's `api/` package (jobs.go,
tasks.go, services.go, resources.go, scaling.go, variables.go, acl.go) and how the server
reads them (command/agent: `encoding/json` into those structs; jobspec2: HCL decoded by the
structs' `hcl` tags, durations written as Go duration strings). Structs our jobspecs never use
are typed `any`: their field names are still known, their insides are not checked.

JSON, as Go's decoder sees it:
- a wrong type (a string where a Go `*int64` is, a float for an int, a list for a map) is an
  error, and Nomad answers 400;
- an unknown field is silently dropped, and a field name in the wrong case still matches. The
  server accepts both, so they are reported as warnings: a request that sets a field Nomad
  ignores does not do what its author meant.

Jobspecs, as jobspec2 sees them: an argument or block the struct has no `hcl` tag for is an
error ("Unsupported argument"); values convert the way HCL converts them (a numeric string to
a number, a number to a string); durations go from "15s" to integer nanoseconds.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

# Types: "string", "bool", "int", "uint", "duration" (int64 nanoseconds in JSON, a Go duration
# string in a jobspec), "bytes" (base64 in JSON), "any", ("list", T), ("map", T), or the name
# of a struct below.
Type = Any


@dataclass(frozen=True)
class Field:
    type: Type
    hcl: str | None = None  # the jobspec name; None: not settable from a jobspec
    block: bool = False  # a jobspec block, not an argument
    label: bool = False  # the block's label


def _attr(type_: Type, hcl: str) -> Field:
    return Field(type_, hcl)


def _block(type_: Type, hcl: str) -> Field:
    return Field(type_, hcl, block=True)


def _server(type_: Type) -> Field:
    return Field(type_)


def _list(type_: Type) -> Type:
    return ("list", type_)


def _map(type_: Type) -> Type:
    return ("map", type_)


WRITE_REQUEST = {
    "Region": _server("string"),
    "Namespace": _server("string"),
    "SecretID": _server("string"),
}

STRUCTS: dict[str, dict[str, Field]] = {
    "Job": {
        "Region": _attr("string", "region"),
        "Namespace": _attr("string", "namespace"),
        "ID": _attr("string", "id"),
        "Name": _attr("string", "name"),
        "Type": _attr("string", "type"),
        "Priority": _attr("int", "priority"),
        "AllAtOnce": _attr("bool", "all_at_once"),
        "Datacenters": _attr(_list("string"), "datacenters"),
        "NodePool": _attr("string", "node_pool"),
        "Constraints": _block(_list("Constraint"), "constraint"),
        "Affinities": _block(_list("any"), "affinity"),
        "TaskGroups": _block(_list("TaskGroup"), "group"),
        "Update": _block("UpdateStrategy", "update"),
        "Multiregion": _block("any", "multiregion"),
        "Spreads": _block(_list("Spread"), "spread"),
        "Periodic": _block("PeriodicConfig", "periodic"),
        "ParameterizedJob": _block("ParameterizedJobConfig", "parameterized"),
        "Reschedule": _block("ReschedulePolicy", "reschedule"),
        "Migrate": _block("any", "migrate"),
        "Meta": _block(_map("string"), "meta"),
        "UI": _block("any", "ui"),
        # Set by the server.
        "Stop": _server("bool"),
        "ParentID": _server("string"),
        "Dispatched": _server("bool"),
        "DispatchIdempotencyToken": _server("string"),
        "Payload": _server("bytes"),
        "ConsulNamespace": _server("string"),
        "VaultNamespace": _server("string"),
        "NomadTokenID": _server("string"),
        "Status": _server("string"),
        "StatusDescription": _server("string"),
        "Stable": _server("bool"),
        "Version": _server("uint"),
        "SubmitTime": _server("int"),
        "CreateIndex": _server("uint"),
        "ModifyIndex": _server("uint"),
        "JobModifyIndex": _server("uint"),
        "VersionTag": _server("any"),
    },
    "TaskGroup": {
        "Name": Field("string", "name", label=True),
        "Count": _attr("int", "count"),
        "Constraints": _block(_list("Constraint"), "constraint"),
        "Affinities": _block(_list("any"), "affinity"),
        "Tasks": _block(_list("Task"), "task"),
        "Spreads": _block(_list("Spread"), "spread"),
        "Volumes": _block(_map("any"), "volume"),
        "RestartPolicy": _block("RestartPolicy", "restart"),
        "Disconnect": _block("any", "disconnect"),
        "ReschedulePolicy": _block("ReschedulePolicy", "reschedule"),
        "EphemeralDisk": _block("EphemeralDisk", "ephemeral_disk"),
        "Update": _block("UpdateStrategy", "update"),
        "Migrate": _block("any", "migrate"),
        "Networks": _block(_list("NetworkResource"), "network"),
        "Meta": _block(_map("string"), "meta"),
        "Services": _block(_list("Service"), "service"),
        "ShutdownDelay": _attr("duration", "shutdown_delay"),
        "MaxRunDuration": _attr("duration", "max_run_duration"),
        "StopAfterClientDisconnect": _attr("duration", "stop_after_client_disconnect"),
        "MaxClientDisconnect": _attr("duration", "max_client_disconnect"),
        "Scaling": _block("any", "scaling"),
        "Consul": _block("any", "consul"),
        "PreventRescheduleOnLost": _attr("bool", "prevent_reschedule_on_lost"),
    },
    "Task": {
        "Name": Field("string", "name", label=True),
        "Driver": _attr("string", "driver"),
        "User": _attr("string", "user"),
        "Lifecycle": _block("TaskLifecycle", "lifecycle"),
        # Driver configuration: the client's task driver checks it at placement, not the API.
        "Config": _block(_map("any"), "config"),
        "Constraints": _block(_list("Constraint"), "constraint"),
        "Affinities": _block(_list("any"), "affinity"),
        "Env": _block(_map("string"), "env"),
        "Services": _block(_list("Service"), "service"),
        "Resources": _block("Resources", "resources"),
        "RestartPolicy": _block("RestartPolicy", "restart"),
        "Meta": _block(_map("string"), "meta"),
        "KillTimeout": _attr("duration", "kill_timeout"),
        "LogConfig": _block("any", "logs"),
        "Artifacts": _block(_list("any"), "artifact"),
        "Vault": _block("any", "vault"),
        "Consul": _block("any", "consul"),
        "Templates": _block(_list("Template"), "template"),
        "DispatchPayload": _block("any", "dispatch_payload"),
        "VolumeMounts": _block(_list("any"), "volume_mount"),
        "CSIPluginConfig": _block("any", "csi_plugin"),
        "Leader": _attr("bool", "leader"),
        "ShutdownDelay": _attr("duration", "shutdown_delay"),
        "KillSignal": _attr("string", "kill_signal"),
        "Kind": _attr("string", "kind"),
        "ScalingPolicies": _block(_list("any"), "scaling"),
        "Secrets": _block(_list("any"), "secret"),
        "Identity": _server("any"),
        "Identities": _block(_list("any"), "identity"),
        "Actions": _block(_list("any"), "action"),
        "Schedule": _block("any", "schedule"),
    },
    "Service": {
        "Name": _attr("string", "name"),
        "Tags": _attr(_list("string"), "tags"),
        "CanaryTags": _attr(_list("string"), "canary_tags"),
        "EnableTagOverride": _attr("bool", "enable_tag_override"),
        "PortLabel": _attr("string", "port"),
        "AddressMode": _attr("string", "address_mode"),
        "Address": _attr("string", "address"),
        "Checks": _block(_list("ServiceCheck"), "check"),
        "CheckRestart": _block("CheckRestart", "check_restart"),
        "Connect": _block("any", "connect"),
        "Meta": _block(_map("string"), "meta"),
        "CanaryMeta": _block(_map("string"), "canary_meta"),
        "TaggedAddresses": _block(_map("string"), "tagged_addresses"),
        "TaskName": _attr("string", "task"),
        "OnUpdate": _attr("string", "on_update"),
        "Identity": _block("any", "identity"),
        "Weights": _block("any", "weights"),
        "Provider": _attr("string", "provider"),
        "Cluster": _attr("string", "cluster"),
        "Kind": _attr("string", "kind"),
    },
    "ServiceCheck": {
        "Name": _attr("string", "name"),
        "Type": _attr("string", "type"),
        "Command": _attr("string", "command"),
        "Args": _attr(_list("string"), "args"),
        "Path": _attr("string", "path"),
        "Protocol": _attr("string", "protocol"),
        "PortLabel": _attr("string", "port"),
        "Expose": _attr("bool", "expose"),
        "AddressMode": _attr("string", "address_mode"),
        "Advertise": _attr("string", "advertise"),
        "Interval": _attr("duration", "interval"),
        "Timeout": _attr("duration", "timeout"),
        "InitialStatus": _attr("string", "initial_status"),
        "Notes": _attr("string", "notes"),
        "TLSServerName": _attr("string", "tls_server_name"),
        "TLSSkipVerify": _attr("bool", "tls_skip_verify"),
        "Header": _block(_map(_list("string")), "header"),
        "Method": _attr("string", "method"),
        "CheckRestart": _block("CheckRestart", "check_restart"),
        "GRPCService": _attr("string", "grpc_service"),
        "GRPCUseTLS": _attr("bool", "grpc_use_tls"),
        "TaskName": _attr("string", "task"),
        "SuccessBeforePassing": _attr("int", "success_before_passing"),
        "FailuresBeforeCritical": _attr("int", "failures_before_critical"),
        "FailuresBeforeWarning": _attr("int", "failures_before_warning"),
        "Body": _attr("string", "body"),
        "OnUpdate": _attr("string", "on_update"),
    },
    "CheckRestart": {
        "Limit": _attr("int", "limit"),
        "Grace": _attr("duration", "grace"),
        "IgnoreWarnings": _attr("bool", "ignore_warnings"),
    },
    "UpdateStrategy": {
        "Stagger": _attr("duration", "stagger"),
        "MaxParallel": _attr("int", "max_parallel"),
        "HealthCheck": _attr("string", "health_check"),
        "MinHealthyTime": _attr("duration", "min_healthy_time"),
        "HealthyDeadline": _attr("duration", "healthy_deadline"),
        "ProgressDeadline": _attr("duration", "progress_deadline"),
        "Canary": _attr("int", "canary"),
        "AutoRevert": _attr("bool", "auto_revert"),
        "AutoPromote": _attr("bool", "auto_promote"),
    },
    "PeriodicConfig": {
        "Enabled": _attr("bool", "enabled"),
        "Spec": _attr("string", "cron"),
        "Specs": _attr(_list("string"), "crons"),
        "SpecType": _server("string"),
        "ProhibitOverlap": _attr("bool", "prohibit_overlap"),
        "TimeZone": _attr("string", "time_zone"),
    },
    "ParameterizedJobConfig": {
        "Payload": _attr("string", "payload"),
        "MetaRequired": _attr(_list("string"), "meta_required"),
        "MetaOptional": _attr(_list("string"), "meta_optional"),
    },
    "RestartPolicy": {
        "Interval": _attr("duration", "interval"),
        "Attempts": _attr("int", "attempts"),
        "Delay": _attr("duration", "delay"),
        "Mode": _attr("string", "mode"),
        "RenderTemplates": _attr("bool", "render_templates"),
    },
    "ReschedulePolicy": {
        "Attempts": _attr("int", "attempts"),
        "Interval": _attr("duration", "interval"),
        "Delay": _attr("duration", "delay"),
        "DelayFunction": _attr("string", "delay_function"),
        "MaxDelay": _attr("duration", "max_delay"),
        "Unlimited": _attr("bool", "unlimited"),
    },
    "EphemeralDisk": {
        "Sticky": _attr("bool", "sticky"),
        "Migrate": _attr("bool", "migrate"),
        "SizeMB": _attr("int", "size"),
    },
    "Resources": {
        "CPU": _attr("int", "cpu"),
        "Cores": _attr("int", "cores"),
        "MemoryMB": _attr("int", "memory"),
        "MemoryMaxMB": _attr("int", "memory_max"),
        "DiskMB": _attr("int", "disk"),
        "Networks": _block(_list("NetworkResource"), "network"),
        "Devices": _block(_list("any"), "device"),
        "NUMA": _block("any", "numa"),
        "SecretsMB": _attr("int", "secrets"),
        "IOPS": _attr("int", "iops"),
    },
    "NetworkResource": {
        "Mode": _attr("string", "mode"),
        "Device": _attr("string", "device"),
        "CIDR": _attr("string", "cidr"),
        "IP": _attr("string", "ip"),
        "DNS": _block("any", "dns"),
        "ReservedPorts": _block(_list("Port"), "reserved_ports"),
        "DynamicPorts": _block(_list("Port"), "port"),
        "Hostname": _attr("string", "hostname"),
        "MBits": _attr("int", "mbits"),
        "CNI": _block("any", "cni"),
    },
    "Port": {
        "Label": Field("string", "label", label=True),
        "Value": _attr("int", "static"),
        "To": _attr("int", "to"),
        "HostNetwork": _attr("string", "host_network"),
        "IgnoreCollision": _attr("bool", "ignore_collision"),
    },
    "Spread": {
        "Attribute": _attr("string", "attribute"),
        "Weight": _attr("int", "weight"),
        "SpreadTarget": _block(_list("SpreadTarget"), "target"),
    },
    "SpreadTarget": {
        "Value": Field("string", "value", label=True),
        "Percent": _attr("uint", "percent"),
    },
    "Constraint": {
        "LTarget": _attr("string", "attribute"),
        "RTarget": _attr("string", "value"),
        "Operand": _attr("string", "operator"),
    },
    "Template": {
        "SourcePath": _attr("string", "source"),
        "DestPath": _attr("string", "destination"),
        "EmbeddedTmpl": _attr("string", "data"),
        "ChangeMode": _attr("string", "change_mode"),
        "ChangeScript": _block("any", "change_script"),
        "ChangeSignal": _attr("string", "change_signal"),
        "Once": _attr("bool", "once"),
        "Splay": _attr("duration", "splay"),
        "Perms": _attr("string", "perms"),
        "Uid": _attr("int", "uid"),
        "Gid": _attr("int", "gid"),
        "LeftDelim": _attr("string", "left_delimiter"),
        "RightDelim": _attr("string", "right_delimiter"),
        "Envvars": _attr("bool", "env"),
        "VaultGrace": _attr("duration", "vault_grace"),
        "Wait": _block("any", "wait"),
        "ErrMissingKey": _attr("bool", "error_on_missing_key"),
    },
    "TaskLifecycle": {
        "Hook": _attr("string", "hook"),
        "Sidecar": _attr("bool", "sidecar"),
    },
    # Request bodies.
    "JobsParseRequest": {
        "JobHCL": _server("string"),
        "Variables": _server("string"),
        "Canonicalize": _server("bool"),
    },
    "JobRegisterRequest": {
        "Submission": _server("any"),
        "Job": _server("Job"),
        "EnforceIndex": _server("bool"),
        "JobModifyIndex": _server("uint"),
        "PolicyOverride": _server("bool"),
        "PreserveCounts": _server("bool"),
        "PreserveResources": _server("bool"),
        "EvalPriority": _server("int"),
        **WRITE_REQUEST,
    },
    "ScalingRequest": {
        "Count": _server("int"),
        "Target": _server(_map("string")),
        "Message": _server("string"),
        "Error": _server("bool"),
        "Meta": _server(_map("any")),
        "PolicyOverride": _server("bool"),
        "JobModifyIndex": _server("uint"),
        **WRITE_REQUEST,
    },
    "JobDispatchRequest": {
        "JobID": _server("string"),
        "Payload": _server("bytes"),
        "Meta": _server(_map("string")),
        "IdPrefixTemplate": _server("string"),
        "Priority": _server("int"),
        **WRITE_REQUEST,
    },
    "Variable": {
        "Namespace": _server("string"),
        "Path": _server("string"),
        "CreateIndex": _server("uint"),
        "ModifyIndex": _server("uint"),
        "CreateTime": _server("int"),
        "ModifyTime": _server("int"),
        "Items": _server(_map("string")),
        "Lock": _server("VariableLock"),
    },
    "VariableLock": {
        "ID": _server("string"),
        "TTL": _server("string"),
        "LockDelay": _server("string"),
    },
    "ACLPolicy": {
        "Name": _server("string"),
        "Description": _server("string"),
        "Rules": _server("string"),
        "JobACL": _server("JobACL"),
        "CreateIndex": _server("uint"),
        "ModifyIndex": _server("uint"),
    },
    "JobACL": {
        "Namespace": _server("string"),
        "JobID": _server("string"),
        "Group": _server("string"),
        "Task": _server("string"),
    },
}


@dataclass
class Findings:
    """What Go's decoder would refuse (errors: Nomad answers 400) and what it would silently
    drop (warnings)."""

    errors: list[str]
    warnings: list[str]


def check_json(value: Any, type_: Type, where: str = "$") -> Findings:
    """Check a decoded JSON request body against a type, as Go's encoding/json would."""
    found = Findings([], [])
    _check(value, type_, where, found)
    return found


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(value: Any, type_: Type, where: str, found: Findings) -> None:
    if value is None or type_ == "any":  # null leaves a Go field at its zero value
        return
    expected = {
        "string": lambda v: isinstance(v, str),
        "bool": lambda v: isinstance(v, bool),
        "int": _is_int,
        "duration": _is_int,
        "uint": lambda v: _is_int(v) and v >= 0,
        "bytes": _is_base64,
    }
    if isinstance(type_, str) and type_ in expected:
        if not expected[type_](value):
            found.errors.append(f"{where}: cannot decode {value!r} into a Go {type_}")
        return
    if isinstance(type_, tuple):
        kind, item = type_
        if kind == "list" and isinstance(value, list):
            for index, element in enumerate(value):
                _check(element, item, f"{where}[{index}]", found)
        elif kind == "map" and isinstance(value, dict):
            for key, element in value.items():
                _check(element, item, f"{where}.{key}", found)
        else:
            found.errors.append(f"{where}: cannot decode {value!r} into a Go {kind}")
        return
    if not isinstance(value, dict):
        found.errors.append(f"{where}: cannot decode {value!r} into a Go struct {type_}")
        return
    fields = STRUCTS[type_]
    by_folded_name = {name.casefold(): name for name in fields}
    for key, element in value.items():
        name = key if key in fields else by_folded_name.get(key.casefold())
        if name is None:
            found.warnings.append(f"{where}.{key}: no such field in {type_}; Nomad ignores it")
            continue
        if name != key:
            found.warnings.append(f"{where}.{key}: matches {type_}.{name} only by ignoring case")
        _check(element, fields[name].type, f"{where}.{name}", found)


def _is_base64(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Jobspecs (HCL2, as python-hcl2 reads them) -> api.Job

_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds ("1h30m", "15s", "500ms", "0")."""
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body == "0":
        return 0
    parts = _DURATION.findall(body)
    if not body or "".join(number + unit for number, unit in parts) != body:
        raise ValueError(f"time: invalid duration {text!r}")
    return sign * round(sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts))


class JobspecError(ValueError):
    """What jobspec2 would report for the jobspec; Nomad answers 400 "Failed to parse job"."""


_REFERENCE = re.compile(r"\$\{var\.(\w+)\}")


def resolve(raw: Any, variables: dict[str, Any]) -> Any:
    """Substitute ${var.x}; other interpolations (${node.unique.name}, ${NOMAD_META_x}) are
    resolved by the client at run time and stay as written."""
    if isinstance(raw, str):
        whole = _REFERENCE.fullmatch(raw)
        if whole:
            return variables[whole.group(1)]
        return _REFERENCE.sub(lambda m: str(variables[m.group(1)]), raw)
    if isinstance(raw, list):
        return [resolve(item, variables) for item in raw]
    if isinstance(raw, dict):
        return {key: resolve(item, variables) for key, item in raw.items()}
    return raw


def convert(value: Any, type_: Type, where: str) -> Any:
    """An HCL value converted to a field type as cty converts it; JobspecError if it cannot."""
    problem = JobspecError(f"{where}: unsuitable value {value!r} for a {type_}")
    if type_ == "any":
        return value
    if type_ == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float | str):
            return str(value)
        raise problem
    if type_ == "number":  # an HCL variable's number: integer or not
        if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value):
            value = float(value) if "." in value else int(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        raise problem
    if type_ in ("int", "uint"):
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
            value = int(value)
        if _is_int(value) and (type_ == "int" or value >= 0):
            return value
        raise problem
    if type_ == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise problem
    if type_ == "duration":
        if _is_int(value):
            return value
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except ValueError as error:
                raise JobspecError(f"{where}: {error}") from None
        raise problem
    kind, item = type_
    if kind == "list" and isinstance(value, list):
        return [convert(element, item, f"{where}[{i}]") for i, element in enumerate(value)]
    if kind == "map" and isinstance(value, dict):
        return {key: convert(element, item, f"{where}.{key}") for key, element in value.items()}
    raise problem


# Blocks jobspec2 also accepts as an argument holding a map (`env = var.config`).
_MAP_ARGUMENTS = {("Job", "meta"), ("TaskGroup", "meta"), ("Task", "env"), ("Task", "meta")}


def decode_block(
    body: dict[str, Any], struct: str, variables: dict[str, Any], where: str
) -> dict[str, Any]:
    """One jobspec block's body as the api struct `struct` (Go field names)."""
    fields = STRUCTS[struct]
    by_hcl = {field.hcl: name for name, field in fields.items() if field.hcl and not field.label}
    decoded: dict[str, Any] = {}
    for key, raw in body.items():
        name = by_hcl.get(key)
        if name is None:
            raise JobspecError(f"{where}: Unsupported argument or block type {key!r} in {struct}")
        field = fields[name]
        inside = f"{where}.{key}"
        if field.block and (struct, key) in _MAP_ARGUMENTS and not isinstance(raw, list):
            decoded[name] = convert(resolve(raw, variables), field.type, inside)
        elif field.block:
            decoded[name] = _decode_blocks(raw, field.type, variables, inside)
        else:
            if isinstance(raw, list) and raw and all(isinstance(item, dict) for item in raw):
                raise JobspecError(f"{inside}: an argument, not a block, in {struct}")
            decoded[name] = convert(resolve(raw, variables), field.type, inside)
    return decoded


def _decode_blocks(raw: Any, type_: Type, variables: dict[str, Any], where: str) -> Any:
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise JobspecError(f"{where}: a block, not an argument")
    repeated = isinstance(type_, tuple) and type_[0] == "list"
    item_type = type_[1] if repeated else type_
    if not repeated and len(raw) != 1:
        raise JobspecError(f"{where}: only one such block is allowed")
    if item_type == "any" or (isinstance(item_type, tuple) and item_type[0] == "map"):
        # config, meta, env and blocks not modelled here: their contents as written.
        values = [resolve(body, variables) for body in raw]
        if isinstance(item_type, tuple):
            values = [convert(value, item_type, where) for value in values]
        return values if repeated else values[0]
    label = next((n for n, f in STRUCTS[item_type].items() if f.label), None)
    decoded = []
    for body in raw:
        if label is None:
            decoded.append(decode_block(body, item_type, variables, where))
            continue
        ((name, inner),) = body.items()
        decoded.append(
            {label: name, **decode_block(inner, item_type, variables, f"{where}[{name!r}]")}
        )
    return decoded if repeated else decoded[0]


def decode_job(spec: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    """The api.Job jobspec2 produces from a parsed jobspec, before Canonicalize."""
    jobs = spec.get("job", [])
    if len(jobs) != 1 or len(jobs[0]) != 1:
        raise JobspecError("a jobspec holds exactly one job block")
    ((job_id, body),) = jobs[0].items()
    job = decode_block(body, "Job", variables, f"job[{job_id!r}]")
    job.setdefault("ID", job_id)
    job.setdefault("Name", job_id)
    periodic = job.get("Periodic")
    if periodic and ("Spec" in periodic or "Specs" in periodic):
        periodic["SpecType"] = "cron"
    # A port with a static number is reserved, the others are dynamic.
    for group in job.get("TaskGroups", []):
        for network in group.get("Networks", []):
            ports = network.pop("DynamicPorts", [])
            network["DynamicPorts"] = [p for p in ports if not p.get("Value")]
            reserved = [p for p in ports if p.get("Value")]
            if reserved:
                network["ReservedPorts"] = network.get("ReservedPorts", []) + reserved
    return job
