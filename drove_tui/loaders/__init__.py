"""Reading files people already have: spec files (JSON/YAML), inventories (native, Ansible, ~/.ssh/config)."""
