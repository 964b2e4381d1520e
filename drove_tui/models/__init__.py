"""What things are: task spec, inventory, host facts, task info, states. Pydantic, no I/O."""
