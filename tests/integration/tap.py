# SPDX-License-Identifier: MIT
"""Minimal TAP output for the Python integration checks."""
import sys


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, what, detail=''):
        self.n += 1
        if not cond:
            self.failed += 1
        print('%sok %d - %s' % ('' if cond else 'not ', self.n, what))
        if not cond and detail:
            print('# ' + str(detail).strip().replace('\n', '\n# '))
        sys.stdout.flush()
        return cond

    def skip(self, why):
        """A check that cannot run here: TAP's skip directive, with why."""
        self.n += 1
        print('ok %d # SKIP %s' % (self.n, why))
        sys.stdout.flush()

    def eq(self, got, want, what, detail=''):
        return self.ok(got == want, what, 'got %r, want %r\n%s' % (got, want, detail))

    def done(self):
        print('1..%d' % self.n)
        return 1 if self.failed else 0
