# SPDX-License-Identifier: MIT
"""The qa checks' way of running a program: in a directory, no terminal
input unless given, its output captured, a time limit."""
import subprocess


def run(argv, cwd, *, text=False, timeout=120, stdin=subprocess.DEVNULL, preexec_fn=None):
    return subprocess.run(argv, cwd=cwd, stdin=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=text, timeout=timeout,
                          preexec_fn=preexec_fn)
