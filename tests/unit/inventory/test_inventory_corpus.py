"""Every malformed inventory in corpus/ exits 2 with a message naming the place."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drove_tui.cli import main

CORPUS = Path(__file__).parent / "corpus"

EXPECTED = {
    "alias-inside-itself.yaml": "the document contains itself through a YAML alias",
    "ansible-connection-winrm.yaml": "ansible-connection-winrm.yaml:3: "
    "all.hosts.win1.ansible_connection: given 'winrm'",
    "ansible-group-not-mapping.yaml": "all.children.web: a group is a mapping",
    "ansible-ini-bad-port.ini": "ansible-ini-bad-port.ini:2: [web] host1.ansible_port: given 'abc'",
    "ansible-ini-bad-section.ini": "ansible-ini-bad-section.ini:1: [web:hostvars]: use :vars",
    "ansible-ini-bare-word.ini": "ansible-ini-bare-word.ini:2: host1: 'fast' is not key=value",
    "ansible-ini-unclosed-quote.ini": "ansible-ini-unclosed-quote.ini:2: unbalanced quotes",
    "ansible-negative-reserved-cores.yaml": "all.hosts.host1.drove_reserved_cores: given -1",
    "ansible-unknown-drove-var.yaml": "all.children.web.vars.drove_colour: is not a known field",
    "binary.yaml": "binary.yaml: the inventory file is binary",
    "connection-unknown.yaml": "hosts[0].connection: given 'winrm'; should be 'ssh' or 'local'",
    "cpu-multiplier-too-high.yaml": "hosts[0].cpu_multiplier: given 50",
    "defaults-bad-host-key-policy.yaml": "defaults.host_key_policy: given 'yolo'",
    "duplicate-host.yaml": "duplicate-host.yaml:4: hosts[2].name: 'host1' appears twice",
    "empty.yaml": "empty.yaml: the inventory file is empty",
    "group-unknown-member.yaml": "groups.web.hosts[1]: no host named 'host9'; hosts are host1",
    "group-vars-unknown-field.yaml": "groups.web.vars.colour: is not a known field",
    "host-missing-name.yaml": "host-missing-name.yaml:2: hosts[0].name: is missing",
    "host-name-with-comma.yaml": "hosts[0].name: 'a,b' is not a usable host name",
    "host-port-out-of-range.yaml": "hosts[0].port: given 70000",
    "host-port-word.yaml": "hosts[0].port: given 'ssh'",
    "host-unknown-field.yaml": "host-unknown-field.yaml:3: hosts[0].hostname: is not a known field",
    "memory-percent-too-low.yaml": "hosts[0].memory_percent: given 30",
    "no-hosts.yaml": "no-hosts.yaml: the inventory lists no hosts",
    "settings-bad-placement.yaml": "settings.placement: given 'random'",
    "tags-not-a-map.yaml": "hosts[0].tags: given 5",
    "top-level-list.yaml": "an inventory holds a mapping",
    "yaml-syntax-error.yaml": "yaml-syntax-error.yaml:3:4: YAML syntax error",
}


def test_every_corpus_file_has_an_expectation_and_there_are_at_least_15() -> None:
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(EXPECTED)
    assert len(EXPECTED) >= 15


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_inventory_exits_2_naming_the_place(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["inventory", "show", "-i", str(CORPUS / name)])
    out, err = capsys.readouterr()
    assert code == 2
    assert EXPECTED[name] in err
    assert out == ""
    assert "Traceback" not in err


def test_whole_corpus_in_a_real_process_prints_no_traceback() -> None:
    script = (
        "import sys\nfrom drove_tui.cli import main\n"
        "codes = [main(['inventory', 'show', '-i', f]) for f in sys.argv[1:]]\n"
        "sys.exit(0 if set(codes) == {2} else 1)\n"
    )
    files = [str(CORPUS / name) for name in sorted(EXPECTED)]
    done = subprocess.run(
        [sys.executable, "-c", script, *files], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr.count("drove-tui: ") == len(files)
