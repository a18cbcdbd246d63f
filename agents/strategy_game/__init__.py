"""The strategy game of seed 004: troops, alliances and villages; a policy trained on a proxy."""
