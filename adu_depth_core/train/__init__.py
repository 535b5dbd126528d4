"""Offline training: typed config, a generic resumable/DDP trainer, evaluation reports and the ablation.

Light on import: submodules pull in torch themselves, so CLI ``--help`` stays instant.
"""
