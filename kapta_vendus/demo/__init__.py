"""``kapta-vendus demo``: the whole product on one machine, end to end, in under a minute."""
