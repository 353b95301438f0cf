"""The Differentiable Neural Computer (Graves et al. 2016) and its sparse version (Rae et al. 2016).

    addressing.py   allocation, usage, temporal linkage, read modes: pure batched functions
    access.py       interface vector -> one write-link-read step of memory access
    model.py        controllers, the DNC (pytorch-dnc's constructor and call) and DNCModel (the library's)
    sparse.py       the sparse DNC: K-sparse reads and writes, least-recently-used allocation, sparse links

The float64 NumPy reference of every equation is ``ntm.dnc_reference``.
"""

from .model import DNC, DNCConfig, DNCModel, DNCState, detach_state
from .sparse import SDNC, SDNCConfig, SDNCModel

__all__ = ["DNC", "DNCConfig", "DNCModel", "DNCState", "detach_state", "SDNC", "SDNCConfig", "SDNCModel"]
