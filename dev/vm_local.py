"""`make vm-local`: one VM's worth on this machine, on the same defaults as `make run`.

nginx listens on VM_PORT (default 8080) and balances two app instances on loopback
ports VM_APP_PORTS (default 8001,8002, as lending@1 and lending@2 on a VM), each started
with the container's command. PostgreSQL, Stripe and the OIDC provider are yours when
DATABASE_URL, STRIPE_API_KEY, OIDC_ISSUER are set, else the embedded stand-ins of
`make run` (dev/run.py `start_defaults`). An instance that dies is restarted, as systemd's
Restart=on-failure would. Ctrl-C or SIGTERM stops everything this started.
"""

from __future__ import annotations

import os
import sys
import time

from dev.embedded import Service, stop_all, supervised
from dev.run import RUN_DIR, STATE, _git_sha, _register_webhook, prepare_database, start_defaults, write_state
from dev.vm_stack import LocalVM


def main() -> int:
    RUN_DIR.mkdir(exist_ok=True)
    env = dict(os.environ)
    port = int(env.get("VM_PORT") or 8080)
    app_ports = tuple(int(p) for p in (env.get("VM_APP_PORTS") or "8001,8002").split(","))
    services: list[Service] = []
    with supervised() as stack:
        stack.callback(STATE.unlink, missing_ok=True)
        stack.callback(stop_all, services)
        lines, local_oidc = start_defaults(env, services, browser_origins=(f"http://127.0.0.1:{port}",))
        seeded = prepare_database(env["DATABASE_URL"])
        env.setdefault("APP_VERSION", _git_sha())
        vm = LocalVM(env, RUN_DIR / "vm", listen_port=port, app_ports=app_ports)
        stack.callback(vm.stop)
        vm.start()
        if "STRIPE_API_BASE" in env and env.get("STRIPE_WEBHOOK_SECRET", "").startswith("whsec_"):
            _register_webhook(env["STRIPE_API_BASE"], f"{vm.url}/webhooks/stripe", env["STRIPE_WEBHOOK_SECRET"])
        write_state(env, local_oidc, vm.url)
        print("\nOne VM of the library lending service is up.\n", flush=True)
        print(f"  nginx                   {vm.url}   (try GET /books, /ready, /version)")
        for instance in vm.instances:
            print(f"  app instance {instance.name[-1]}          {instance.url}   log .run/vm/{instance.log.name}")
        print(*lines, sep="\n")
        print(f"  demo books added        {seeded}\n  nginx logs              .run/vm/nginx/logs/")
        print("\n  Stop:          Ctrl-C\n", flush=True)
        while True:
            time.sleep(0.5)
            for instance in vm.instances:
                if not instance.running:
                    print(f"  {instance.name} exited; restarting it", flush=True)
                    instance.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
