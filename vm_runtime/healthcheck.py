"""The container's HEALTHCHECK: exit 0 when this instance answers GET /health within 2 s."""

import sys
import urllib.request


def main(url: str = "http://127.0.0.1:8000/health") -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - fixed loopback URL
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
