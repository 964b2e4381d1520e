"""How we reach hosts: SSH and local transports, the quoting builder, probes, host health."""
