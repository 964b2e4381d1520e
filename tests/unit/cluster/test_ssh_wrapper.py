"""The wrapper every SSH command runs in, run here by a real sh as sshd would run it (the login
shell execs it): it reports the id of a process group that is the command's own, and starts
no setsid process when sshd already made the session."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from drove_tui.cluster.command import Command
from drove_tui.cluster.ssh import wrap

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc, as on the hosts")


def run_wrapped(*, new_session: bool) -> tuple[int, int, int]:
    """The login shell's pid, the group id the wrapper reported, and the group id the
    wrapped command ran in."""
    line = Command("sh", "-c", 'read -r _ _ _ _ g _ </proc/$$/stat; echo "$g"')
    proc = subprocess.Popen(
        ["sh", "-c", wrap(line).line()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    first = err.splitlines()[0]
    assert first.startswith("@drove-pgid "), err
    return proc.pid, int(first.split()[1]), int(out.strip())


def test_in_a_session_of_its_own_the_shell_itself_leads_the_group() -> None:
    shell, reported, ran_in = run_wrapped(new_session=True)
    assert reported == shell == ran_in  # no setsid process forked in between


def test_a_shell_that_leads_no_group_gets_one_of_its_own() -> None:
    _shell, reported, ran_in = run_wrapped(new_session=False)
    assert reported == ran_in
    assert ran_in != os.getpgrp()  # not pytest's group: killing it spares the caller
