"""Runs a command (stdin and stdout passed through) and prints, on stderr, the CPU time and peak
RSS of it and every process it waited for: `rusage cpu_ms=<user+sys> maxrss_kib=<max>`. The
bench's way to see per-invocation cost that the machine's load does not blur the way wall time is.
Usage: /usr/bin/python3 rusage.py COMMAND [ARG...]
"""
import resource
import subprocess
import sys

code = subprocess.run(sys.argv[1:]).returncode
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
print(f"rusage cpu_ms={cpu_ms:.2f} maxrss_kib={usage.ru_maxrss}", file=sys.stderr)
sys.exit(code)
