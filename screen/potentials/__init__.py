"""Machine-learned interatomic potentials behind one batched protocol, found by model card."""
