#!/usr/bin/env python3
"""Runs a command under the kernel's memory-deny-write-execute (prctl PR_SET_MDWE, Linux 6.3+),
the restriction systemd's MemoryDenyWriteExecute=yes applies: no mapping may ever become both
writable and executable. The flag survives execve, so the command runs fully under it.
Usage: mdwe-exec.py PROGRAM [ARGS...]; exits 3 if the kernel has no PR_SET_MDWE."""
import ctypes
import os
import sys

PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    print(f"mdwe-exec: prctl(PR_SET_MDWE) failed (errno {ctypes.get_errno()}); kernel older than 6.3?", file=sys.stderr)
    sys.exit(3)
os.execv(sys.argv[1], sys.argv[1:])
