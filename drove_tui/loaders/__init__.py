"""Reading files people already have: task specs (JSON/YAML) and inventories (native,
Ansible YAML/INI, ~/.ssh/config). Every problem is an InvalidInput naming file and field."""
