"""The event pipeline's services. The pure steps (normalise, mapping, fiscal, decide, rules,
payloads, templates) do no I/O; the modules that touch the database are named for their job."""
