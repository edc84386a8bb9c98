"""The thin receiver: verify the signature, persist to the inbox, enqueue after commit, answer."""
