"""`python -m tinygrad_sm`: the `tinygrad-sm` command (cli.main)."""
import sys

try:
    from .cli import main

    status = main()
except KeyboardInterrupt:  # Ctrl-C in the instant before cli.main took over: one line
    print("tinygrad-sm: interrupted", file=sys.stderr)
    status = 130
sys.exit(status)
