"""`make vm-local`: one VM's worth on this machine, on the same defaults as `make run`.

nginx listens on VM_PORT (default 8080) and balances two app instances on loopback
ports VM_APP_PORTS (default 8001,8002, as lending@1 and lending@2 on a VM), each started
with the container's command. PostgreSQL, Stripe and the OIDC provider are yours when
DATABASE_URL, STRIPE_API_KEY, OIDC_ISSUER are set, else the embedded stand-ins of
`make run` (dev/run.py; `start_defaults` below mirrors its block, kept here so that file
stays untouched while it changes elsewhere). An instance that dies is restarted, as systemd's
Restart=on-failure would. Ctrl-C or SIGTERM stops everything this started.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time

from dev.embedded import Service, start_localstripe, start_oidc_provider, start_postgres
from dev.run import RUN_DIR, STATE, _git_sha, _register_webhook, prepare_database
from vm_runtime.stack import LocalVM


def _on_signal(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def start_defaults(env: dict[str, str], services: list[Service]) -> tuple[list[str], bool]:
    """`make run`'s defaults: an embedded stand-in (dev/embedded.py) for each dependency whose setting
    `env` lacks, filled into `env`. What it starts is appended to `services` for the caller to stop.
    Returns lines describing each dependency, and whether the OIDC provider is the local mock."""
    lines: list[str] = []
    if not env.get("DATABASE_URL"):
        pg = start_postgres(RUN_DIR / "postgres", log=RUN_DIR / "postgres.log")
        services.append(pg)
        env["DATABASE_URL"] = pg.url
        lines.append(f"  PostgreSQL (embedded)   {pg.url}   data in .run/postgres")
    else:
        lines.append("  PostgreSQL              DATABASE_URL from your environment")
    if not env.get("STRIPE_API_KEY"):
        stripe = start_localstripe(log=RUN_DIR / "localstripe.log")
        services.append(stripe)
        env["STRIPE_API_KEY"] = "sk_test_local_" + secrets.token_hex(8)
        env["STRIPE_API_BASE"] = stripe.url
        env.setdefault("STRIPE_WEBHOOK_SECRET", "whsec_" + secrets.token_hex(16))
        lines.append(f"  Stripe (localstripe)    {stripe.url}   test card pm_card_visa; declines: pm_card_chargeCustomerFail")
    else:
        lines.append("  Stripe                  STRIPE_API_KEY from your environment")
    local_oidc = not env.get("OIDC_ISSUER")
    if local_oidc:
        oidc = start_oidc_provider(log=RUN_DIR / "oidc.log")
        services.append(oidc)
        env["OIDC_ISSUER"], env["OIDC_AUDIENCE"] = oidc.url, env.get("OIDC_AUDIENCE") or "library-ui"
        lines.append(f"  OIDC provider (mock)    {oidc.url}   dev sign-in, loopback only")
    elif not env.get("OIDC_AUDIENCE"):
        raise SystemExit("OIDC_AUDIENCE is required with OIDC_ISSUER")
    else:
        lines.append(f"  OIDC provider           {env['OIDC_ISSUER']}")
    return lines, local_oidc


def main() -> int:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    RUN_DIR.mkdir(exist_ok=True)
    env = dict(os.environ)
    port = int(env.get("VM_PORT") or 8080)
    app_ports = tuple(int(p) for p in (env.get("VM_APP_PORTS") or "8001,8002").split(","))
    services: list[Service] = []
    vm: LocalVM | None = None
    try:
        lines, local_oidc = start_defaults(env, services)
        seeded = prepare_database(env["DATABASE_URL"])
        env.setdefault("APP_VERSION", _git_sha())
        vm = LocalVM(env, RUN_DIR / "vm", listen_port=port, app_ports=app_ports)
        vm.start()
        if "STRIPE_API_BASE" in env and env.get("STRIPE_WEBHOOK_SECRET", "").startswith("whsec_"):
            _register_webhook(env["STRIPE_API_BASE"], f"{vm.url}/webhooks/stripe", env["STRIPE_WEBHOOK_SECRET"])
        _write_state(env, local_oidc, vm.url)
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
    except KeyboardInterrupt as why:
        print(f"\nStopping ({why or 'SIGINT'}) ...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if vm is not None:
            vm.stop()
        for service in reversed(services):
            service.stop()
        STATE.unlink(missing_ok=True)


def _write_state(env: dict[str, str], local_oidc: bool, api: str) -> None:
    """This run's settings for `make token` / `make reconcile` (.run/dev.env, as `make run` writes it; owner-only)."""
    keys = ("DATABASE_URL", "STRIPE_API_KEY", "STRIPE_API_BASE", "STRIPE_WEBHOOK_SECRET", "OIDC_ISSUER", "OIDC_AUDIENCE")
    lines = [f"{k}={env[k]}" for k in keys if env.get(k)] + [f"LOCAL_OIDC={'1' if local_oidc else '0'}", f"API={api}"]
    STATE.touch(mode=0o600)
    STATE.chmod(0o600)
    STATE.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
