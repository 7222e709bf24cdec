"""``python -m invoicing_plugin.testing.stripe_emulator``: run the emulator."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .server import StripeEmulator
from .webhooks import DEFAULT_RETRY_SCHEDULE, ChaosConfig


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m invoicing_plugin.testing.stripe_emulator",
        description="Offline Stripe emulator (API, hosted Checkout/onboarding, webhooks).")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=12111, help="port (0 = any free port)")
    parser.add_argument("--webhook-url", "--forward-to", dest="webhook_url",
                        help="account endpoint: deliver accounts' own events (Checkout, charges...) "
                             "to this URL")
    parser.add_argument("--webhook-secret", help="signing secret for --webhook-url (whsec_...; "
                                                 "generated and printed if omitted)")
    parser.add_argument("--connect-webhook-url", "--forward-connect-to", dest="connect_webhook_url",
                        help="Connect endpoint: deliver connected accounts' events (account.updated, "
                             "account.application.deauthorized...) to this URL; may be the same URL")
    parser.add_argument("--connect-webhook-secret",
                        help="signing secret for --connect-webhook-url (whsec_...; its own, "
                             "generated and printed if omitted)")
    parser.add_argument("--retry-schedule", type=_floats,
                        default=DEFAULT_RETRY_SCHEDULE,
                        help="comma-separated waits in seconds between delivery attempts")
    parser.add_argument("--max-attempts", type=int, help="delivery attempts per event")
    chaos = parser.add_argument_group("chaos (webhook deliveries)")
    chaos.add_argument("--chaos", action="store_true",
                       help="duplicate, delay and reorder webhook deliveries")
    chaos.add_argument("--chaos-seed", type=int, help="seed for reproducible chaos")
    chaos.add_argument("--chaos-duplicate-rate", type=float, default=0.5)
    chaos.add_argument("--chaos-concurrent-rate", type=float, default=0.5)
    chaos.add_argument("--chaos-delay-rate", type=float, default=0.5)
    chaos.add_argument("--chaos-max-delay", type=float, default=1.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.webhook_secret and not args.webhook_url:
        print("--webhook-secret needs --webhook-url", file=sys.stderr)
        return 2
    if args.connect_webhook_secret and not args.connect_webhook_url:
        print("--connect-webhook-secret needs --connect-webhook-url", file=sys.stderr)
        return 2
    chaos = ChaosConfig(enabled=args.chaos, seed=args.chaos_seed,
                        duplicate_rate=args.chaos_duplicate_rate,
                        concurrent_rate=args.chaos_concurrent_rate,
                        delay_rate=args.chaos_delay_rate, max_delay=args.chaos_max_delay)
    emulator = StripeEmulator(args.host, args.port, webhook_url=args.webhook_url,
                              webhook_secret=args.webhook_secret,
                              connect_webhook_url=args.connect_webhook_url,
                              connect_webhook_secret=args.connect_webhook_secret, chaos=chaos,
                              retry_schedule=args.retry_schedule,
                              max_attempts=args.max_attempts).start()
    print(f"Stripe emulator listening on {emulator.url}", flush=True)
    for endpoint in emulator.state.endpoints.values():
        kind = "Connect" if endpoint.connect else "account"
        print(f"Delivering {kind} webhooks to {endpoint.url} (secret {endpoint.secret})", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
