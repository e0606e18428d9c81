"""A local AWS for trying the templates without an account: moto on loopback, with two gaps closed.

    python -m infra.local_aws [--port 5000] [--region us-east-1]     (or: make local-aws)
    AWS_ENDPOINT_URL=http://127.0.0.1:5000 make infra-deploy STACK=demo

moto 5.2.5 as it ships cannot deploy the estate the way AWS does:
- it knows no Debian public SSM parameter, and it resolves a parameter's SSM default even when the
  caller overrides it, so `ImageId`'s default (/aws/service/debian/...) must exist: we add it (an
  AWS-owned name, which moto's own API refuses to create);
- a stack created through a change set never gets its Outputs (moto builds them from an empty
  template and does not rebuild them): we rebuild them after the change set is executed;
- on update, UsePreviousValue hands an SSM-typed parameter its already resolved value, which moto
  then tries to resolve again: a value that is not a parameter path is kept as it is;
- a listener's `ListenerAttributes` (HSTS on the HTTPS listener) are dropped: we apply them, as
  `modify_listener_attributes` would, so `describe_listener_attributes` reads them back.
The template's `Rules` are ignored by moto too: infra/deploy.py checks them itself before it sends.
Nothing else is changed; the in-process tests (`mock_aws`) call the same `prepare()`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import signal
import threading
from typing import Any

ACCOUNT = "123456789012"  # moto's default account
PUBLIC_PARAMETERS = {
    # Debian 12 (bookworm) amd64, as Debian publishes it; the value is a made-up image id.
    "/aws/service/debian/release/bookworm/latest/amd64": "ami-0d3b1e5c0d3b1e5c0",
}
_patched = threading.Lock()
_done = False


def _patch_moto() -> None:
    global _done
    with _patched:
        if _done:
            return
        from moto.cloudformation.models import CloudFormationBackend
        from moto.cloudformation.parsing import ResourceMap
        from moto.elbv2.models import FakeListener

        execute = CloudFormationBackend.execute_change_set

        def execute_and_rebuild_outputs(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
            execute(self, change_set_name, stack_name)
            for change_set in self.change_sets.values():
                if change_set_name in (change_set.change_set_id, change_set.change_set_name):
                    stack = self.stacks[change_set.stack_id]
                    stack._parse_template()
                    stack.output_map = stack._create_output_map()

        parse_ssm_parameter = ResourceMap.parse_ssm_parameter

        def parse_unless_resolved(self: Any, value: str, value_type: str) -> Any:
            # An update with UsePreviousValue hands moto the value it resolved last time.
            if isinstance(value, str) and value.startswith("/"):
                return parse_ssm_parameter(self, value, value_type)
            return value

        create_listener = FakeListener.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

        def create_listener_with_attributes(cls: Any, name: str, cloudformation_json: Any, *args: Any,
                                            **kwargs: Any) -> Any:
            listener = create_listener(cls, name, cloudformation_json, *args, **kwargs)
            for attribute in cloudformation_json.get("Properties", {}).get("ListenerAttributes", []) or []:
                listener.attributes[attribute["Key"]] = attribute["Value"]
            return listener

        FakeListener.create_from_cloudformation_json = classmethod(create_listener_with_attributes)  # type: ignore[method-assign,assignment]
        CloudFormationBackend.execute_change_set = execute_and_rebuild_outputs  # type: ignore[method-assign]
        ResourceMap.parse_ssm_parameter = parse_unless_resolved  # type: ignore[method-assign]
        _done = True


def seed_public_parameters(region: str, account: str = ACCOUNT) -> None:
    from moto.ssm.models import Parameter, ssm_backends

    parameters = ssm_backends[account][region]._parameters
    for name, value in PUBLIC_PARAMETERS.items():
        if not parameters.get(name):
            parameters[name].append(Parameter(
                account_id=account, name=name, value=value, parameter_type="String", description=None,
                allowed_pattern=None, keyid=None, last_modified_date=datetime.datetime.now(datetime.UTC),
                version=1, data_type="aws:ec2:image"))


def prepare(*regions: str) -> None:
    _patch_moto()
    for region in regions:
        seed_public_parameters(region)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--region", action="append",
                        help="region(s) to seed (default: AWS_DEFAULT_REGION or us-east-1)")
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    regions = args.region or [os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"]
    prepare(*regions)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    print(f"local AWS (moto) on http://127.0.0.1:{args.port} for {', '.join(regions)}; Ctrl-C stops it", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
