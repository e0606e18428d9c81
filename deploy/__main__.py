"""`python -m deploy {deploy,rollback,status,break-lock} --target {local,aws}` (the make targets call this).

    make deploy-vm [DEPLOY_TARGET=local|aws] [VERSION=sha] [MESSAGE=...] [LOCK_WAIT=s] [LOCK_LEASE=s]
                   [BREAK_LOCK=1] [GATE_TIMEOUT=s] [VERIFY_TIMEOUT=s]
    make rollback-vm [DEPLOY_TARGET=...] [FORCE=1]
    make deploy-status [DEPLOY_TARGET=...]
AWS: STACK (the estate's CloudFormation stack, default `staging`), IMAGE_REPOSITORY (library-lending),
credentials and region from the usual AWS chain.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from deploy import rollback, steps
from deploy.estate import Estate

INTERRUPTED = 130


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def estate_for(args: argparse.Namespace) -> Estate:
    if args.target == "local":
        from deploy.local import LocalEstate
        from deploy.local_layout import ESTATE_DIR

        return LocalEstate(Path(args.estate_dir) if args.estate_dir else ESTATE_DIR)
    from deploy.aws import AwsEstate

    return AwsEstate.from_stack(args.stack, image_repository=args.image_repository)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("deploy", "rollback", "status", "break-lock"))
    parser.add_argument("--target", choices=("local", "aws"), default=os.environ.get("DEPLOY_TARGET") or "aws")
    parser.add_argument("--version", help="commit to deploy (default: the source tree's HEAD)")
    parser.add_argument("--source", type=Path, default=steps.ROOT, help="git tree the version comes from")
    parser.add_argument("--message", default="")
    parser.add_argument("--lock-wait", type=float, default=0.0, help="seconds to wait for another deploy's lock")
    parser.add_argument("--break-lock", action="store_true", help="break a (stale) lock before taking it")
    parser.add_argument("--lock-lease", type=float, default=None,
                        help="seconds the lock is held without renewal (default DEPLOY_LOCK_LEASE, else 120); a "
                             "running deploy renews it, so only a dead one's lease runs out and frees the lock")
    parser.add_argument("--gate-timeout", type=float, default=120.0)
    parser.add_argument("--verify-timeout", type=float, default=30.0)
    parser.add_argument("--force", action="store_true", help="rollback: switch even if the other VM is not ready")
    parser.add_argument("--estate-dir", help="local: the estate's directory (default .run/estate)")
    parser.add_argument("--stack", default=os.environ.get("STACK") or "staging", help="aws: the estate's stack")
    parser.add_argument("--image-repository", default=os.environ.get("IMAGE_REPOSITORY") or "library-lending")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    estate = estate_for(args)
    opts = steps.Options(source=args.source, version=args.version or None, message=args.message,
                         lock_wait=args.lock_wait, break_lock=args.break_lock, gate_timeout=args.gate_timeout,
                         verify_timeout=args.verify_timeout)
    if args.lock_lease is not None:
        if args.lock_lease <= 0:
            parser.error("--lock-lease must be positive")
        opts.lock_lease = args.lock_lease
    try:
        if args.command == "deploy":
            return steps.deploy(estate, opts)
        if args.command == "rollback":
            return rollback.rollback(estate, opts, force=args.force)
        if args.command == "break-lock":
            steps.break_lock(estate, opts.who, print)
            return 0
        return rollback.status(estate)
    except KeyboardInterrupt:
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
