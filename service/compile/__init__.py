"""`kiln compile` and kernel packs: a model split into kernel groups, each verified; packs built,
checked and re-verified (docs/packs.md)."""
