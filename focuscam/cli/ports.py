"""``focuscam ports``: list the serial ports (pyserial's list_ports) with their descriptions."""

from __future__ import annotations

import argparse
import json

EPILOG = """\
examples:
  focuscam ports
  focuscam ports --json

Use a listed device in a drive spec, e.g. focuscam move --drive grbl:/dev/ttyUSB0 ...
Pseudo-terminals and socket:// ports are not listed but work as PORT too.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ports",
        help="list serial ports for focus drives",
        description="List the serial ports pyserial finds, with their descriptions.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--json", action="store_true", help="print a JSON list of {device, description, hwid}"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from serial.tools import list_ports

    ports = sorted(list_ports.comports(), key=lambda p: p.device)
    rows = [{"device": p.device, "description": p.description or "", "hwid": p.hwid or ""} for p in ports]
    if args.json:
        print(json.dumps(rows))
    elif not rows:
        print("no serial ports found")
    else:
        width = max(len(r["device"]) for r in rows)
        for r in rows:
            hwid = f"  [{r['hwid']}]" if r["hwid"] and r["hwid"] != "n/a" else ""
            print(f"{r['device']:<{width}}  {r['description']}{hwid}")
    return 0
