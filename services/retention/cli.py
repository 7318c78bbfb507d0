"""Operator commands of the retention service (``just retention <command>``), on this region's store:

    python -m services.retention.cli sweep          run one expiry sweep now (also runs in the service)
    python -m services.retention.cli verify-audit   check the audit chain; exit 1 if it is broken

Settings come from the same RESIDENCY_RETENTION_* environment as the service.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from services.retention.audit import Verification
from services.retention.bootstrap import RetentionService, bootstrap
from services.retention.settings import RetentionSettings
from services.retention.sweep import SweepReport, sweep


async def run_sweep(service: RetentionService) -> SweepReport:
    return await sweep(service.sweep)


async def verify_audit(service: RetentionService) -> Verification:
    return await service.review.audit.verify()


def report_verification(chain: str, result: Verification) -> int:
    if result.ok:
        print(f"audit chain {chain}: {result.entries} entries verified; head {result.head_hash}")
        return 0
    print(f"audit chain {chain}: BROKEN at sequence {result.first_bad_sequence}: {result.problem} "
          f"({result.entries} entries)", file=sys.stderr)
    return 1


async def main_async(command: str, settings: RetentionSettings) -> int:
    service = bootstrap(settings)
    try:
        if command == "sweep":
            report = await run_sweep(service)
            print(f"sweep: {report.keys_destroyed} keys destroyed, {report.records_deleted} records, "
                  f"{report.flags_deleted} flags, {report.grants_deleted} grants deleted")
            return 0
        return report_verification(service.review.audit.chain, await verify_audit(service))
    finally:
        await service.store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["sweep", "verify-audit"])
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args.command, RetentionSettings()))


if __name__ == "__main__":
    sys.exit(main())
