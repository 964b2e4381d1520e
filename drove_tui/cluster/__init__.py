"""How we reach hosts: SSH and local transports, the quoting command builder, probes, host health."""
