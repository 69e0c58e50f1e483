#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Print the tests that did not pass in meson test logs (testlog.json), each
# with the end of its output.  scripts/test.sh calls it after every stage and
# once more at the very end, so that the last lines of a CI log name what
# failed even when only the tail of the log is kept.
import json
import sys

TAIL = 40
BAD = {"FAIL", "ERROR", "TIMEOUT", "UNEXPECTEDPASS"}


def main(paths):
    bad = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.readlines()
        except OSError as e:
            print(f"failed-tests: {path}: {e.strerror}")
            continue
        for line in lines:
            try:
                t = json.loads(line)
            except ValueError:
                continue
            if t.get("result") not in BAD:
                continue
            bad += 1
            out = (t.get("stdout") or "") + (t.get("stderr") or "")
            tail = out.splitlines()[-TAIL:]
            print(f"--- {t.get('result')}: {t.get('name')} "
                  f"({t.get('duration', 0):.1f} s, status {t.get('returncode')})")
            for l in tail:
                print("    " + l)
    return bad


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv[1:]) else 0)
