"""Least-privilege rules of `make infra-lint` (run by infra/checks.py with the others).

5. Per-function roles: no two Lambda functions share a role; a function's role may read only the
   secrets its own environment names (a *_SECRET_ARN variable), never with Resource "*"; and a
   function names a Stripe secret only with the payments layer, the database secret only with
   the database layer.
6. The app's database role is not the master: where a template makes an RDS primary, no app
   setting (DATABASE_SECRET_ARN, in VM user data or a function's environment) names the secret
   that holds its master password, and the secret it does name has another username.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

LAYER_FOR = {"STRIPE_API_KEY_SECRET_ARN": "PaymentsLayer", "STRIPE_WEBHOOK_SECRET_SECRET_ARN": "PaymentsLayer",
             "DATABASE_SECRET_ARN": "DatabaseLayer"}
SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def _names(node: Any) -> set[str]:
    """Every parameter or resource a value refers to (Ref, GetAtt, ${Name} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(str(value[0] if isinstance(value, list) else str(value).split(".")[0]))
            elif key == "Fn::Sub":
                text, variables = (value[0], value[1]) if isinstance(value, list) else (value, {})
                found |= {n for n in SUB_NAME.findall(str(text)) if n not in variables}
                found |= _names(variables)
            else:
                found |= _names(value)
    elif isinstance(node, list):
        for item in node:
            found |= _names(item)
    return found


def _statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role.get("Properties", {}).get("Policies", []) or []:
        statements = policy.get("PolicyDocument", {}).get("Statement", [])
        yield from (statements if isinstance(statements, list) else [statements])


def _reads_secrets(statement: dict[str, Any]) -> bool:
    actions = statement.get("Action", [])
    actions = actions if isinstance(actions, list) else [actions]
    return statement.get("Effect") == "Allow" and any(
        str(a).lower() in ("secretsmanager:getsecretvalue", "secretsmanager:*", "*") for a in actions)


def per_function_roles(template: dict[str, Any]) -> list[str]:
    resources = template.get("Resources", {})
    functions = {n: r.get("Properties", {}) for n, r in resources.items() if r.get("Type") == "AWS::Lambda::Function"}
    found: list[str] = []
    users: dict[str, list[str]] = {}
    for name, props in functions.items():
        for role in _names(props.get("Role")):
            users.setdefault(role, []).append(name)
    for role, names in sorted(users.items()):
        if len(names) > 1:
            found.append(f"Resources/{role}: one role shared by {len(names)} functions ({', '.join(sorted(names))}); "
                         "give each function its own")
    for name, props in sorted(functions.items()):
        variables = props.get("Environment", {}).get("Variables", {}) or {}
        named = set().union(*(_names(v) for k, v in variables.items() if k.endswith("_SECRET_ARN")))
        layers = _names(props.get("Layers"))
        for variable, layer in LAYER_FOR.items():
            if variable in variables and layer not in layers:
                found.append(f"Resources/{name}: names {variable} without the {layer} that uses it")
        for role in _names(props.get("Role")) & set(resources):
            for statement in _statements(resources[role]):
                if not _reads_secrets(statement):
                    continue
                targets = statement.get("Resource", [])
                for target in targets if isinstance(targets, list) else [targets]:
                    if target == "*":
                        found.append(f"Resources/{role}: reads every secret (Resource \"*\")")
                    elif not _names(target) <= named:
                        found.append(f"Resources/{role}: {name} may read a secret it does not use "
                                     f"({', '.join(sorted(_names(target) - named))})")
    return found


def _user_data_settings(resources: dict[str, Any]) -> Iterator[tuple[str, str, set[str]]]:
    """(resource, variable, names it refers to) for VAR=${X} lines in every Fn::Sub of the resources."""
    for resource, body in resources.items():
        for node in _subs(body):
            text, variables = (node[0], node[1]) if isinstance(node, list) else (node, {})
            for variable, ref in re.findall(r"^\s*([A-Z_]+)=\$\{([A-Za-z0-9.:]+)\}", str(text), re.MULTILINE):
                target = variables.get(ref) if isinstance(variables, dict) else None
                yield resource, variable, _names(target) if target is not None else {ref.split(".")[0]}


def _subs(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::Sub":
                yield value
            yield from _subs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _subs(item)


def _username(secret: dict[str, Any]) -> str | None:
    text = secret.get("Properties", {}).get("GenerateSecretString", {}).get("SecretStringTemplate")
    try:
        return str(json.loads(str(text)).get("username")) if text else None
    except ValueError:
        return None


def app_is_not_master(template: dict[str, Any]) -> list[str]:
    resources = template.get("Resources", {})
    found = []
    for db_name, db in resources.items():
        props = db.get("Properties", {})
        if db.get("Type") != "AWS::RDS::DBInstance" or "SourceDBInstanceIdentifier" in props:
            continue
        masters = _names(props.get("MasterUserPassword")) & set(resources)
        uses = [(where, names) for where, variable, names in _user_data_settings(resources)
                if variable == "DATABASE_SECRET_ARN"]
        uses += [(n, _names(r.get("Properties", {}).get("Environment", {}).get("Variables", {}).get("DATABASE_SECRET_ARN")))
                 for n, r in resources.items() if r.get("Type") == "AWS::Lambda::Function"]
        for where, names in uses:
            if names & masters:
                found.append(f"Resources/{where}: the app connects with {db_name}'s master secret "
                             f"({', '.join(sorted(names & masters))}); give it its own DML-only role's secret")
            for secret in names & set(resources):
                if resources[secret].get("Type") == "AWS::SecretsManager::Secret" and \
                        _username(resources[secret]) in (None, str(props.get("MasterUsername"))):
                    found.append(f"Resources/{secret}: the app's secret must name its own user, not "
                                 f"{db_name}'s master {props.get('MasterUsername')}")
    return found
