"""Property estimators, one module each, registered in the entry-point group screen.estimators.

The estimate stage (stage.py) runs the enabled ones over a shared context (context.py);
base.py is the protocol every estimator follows (docs/dev/estimator.md).
"""
