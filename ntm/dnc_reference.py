"""A float64 NumPy reference of the DNC's memory equations (Graves et al. 2016, Methods).

Written to be read next to the paper: one sequence at a time (no batch), one read head at a
time, explicit loops where the paper has sums and products, the sort written out. It is
deliberately slow and plain. The tests check the batched torch code in ``ntm.dnc`` against it.

Shapes: N memory slots, W slot width, R read heads. The paper indexes from 1; here from 0.
"""

from __future__ import annotations

import numpy as np

from .reference import content_weights, read, write  # the NTM's eqs. 2-6 are the DNC's C, read, erase/add


def oneplus(x: np.ndarray) -> np.ndarray:
    """oneplus(x) = 1 + log(1 + e^x)."""
    return 1.0 + np.log1p(np.exp(x))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - np.max(x))
    return e / e.sum()


def parse_interface(xi: np.ndarray, w: int, r: int) -> dict[str, np.ndarray]:
    """Split the interface vector ``[W R + 3 W + 5 R + 3]`` and apply the paper's activations."""
    xi = np.asarray(xi, dtype=np.float64)
    pos = 0

    def take(n):
        nonlocal pos
        part = xi[pos:pos + n]
        pos += n
        return part

    out = {"read_keys": take(r * w).reshape(r, w), "read_strengths": oneplus(take(r)),
           "write_key": take(w), "write_strength": float(oneplus(take(1))[0]),
           "erase": sigmoid(take(w)), "write_vector": take(w), "free_gates": sigmoid(take(r)),
           "allocation_gate": float(sigmoid(take(1))[0]), "write_gate": float(sigmoid(take(1))[0])}
    out["read_modes"] = np.array([softmax(m) for m in take(3 * r).reshape(r, 3)])
    assert pos == len(xi), "interface vector has the wrong length"
    return out


def retention(free_gates: np.ndarray, prev_read_weights: np.ndarray) -> np.ndarray:
    """psi_t[j] = prod_i (1 - f^i_t w^{r,i}_{t-1}[j]); free_gates ``[R]``, weights ``[R, N]`` -> ``[N]``."""
    n = prev_read_weights.shape[1]
    psi = np.ones(n)
    for i in range(len(free_gates)):
        for j in range(n):
            psi[j] *= 1.0 - free_gates[i] * prev_read_weights[i, j]
    return psi


def usage(prev_usage: np.ndarray, prev_write: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """u_t = (u_{t-1} + w^w_{t-1} - u_{t-1} o w^w_{t-1}) o psi_t; all ``[N]``."""
    return (prev_usage + prev_write - prev_usage * prev_write) * psi


def allocation(u: np.ndarray) -> np.ndarray:
    """a_t[phi[j]] = (1 - u[phi[j]]) prod_{i<j} u[phi[i]], phi = slots by ascending usage (ties: lower slot first)."""
    phi = sorted(range(len(u)), key=lambda i: (u[i], i))
    a = np.zeros(len(u))
    product = 1.0
    for j in phi:
        a[j] = (1.0 - u[j]) * product
        product *= u[j]
    return a


def write_weights(alloc: np.ndarray, write_content: np.ndarray, allocation_gate: float,
                  write_gate: float) -> np.ndarray:
    """w^w_t = g^w [g^a a_t + (1 - g^a) c^w_t]."""
    return write_gate * (allocation_gate * alloc + (1.0 - allocation_gate) * write_content)


def precedence(prev_precedence: np.ndarray, write: np.ndarray) -> np.ndarray:
    """p_t = (1 - sum_i w^w_t[i]) p_{t-1} + w^w_t."""
    return (1.0 - sum(write)) * prev_precedence + write


def link(prev_link: np.ndarray, prev_precedence: np.ndarray, write: np.ndarray) -> np.ndarray:
    """L_t[i, j] = (1 - w[i] - w[j]) L_{t-1}[i, j] + w[i] p_{t-1}[j] for i != j; L_t[i, i] = 0."""
    n = len(write)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                out[i, j] = (1.0 - write[i] - write[j]) * prev_link[i, j] + write[i] * prev_precedence[j]
    return out


def forward_weights(link_matrix: np.ndarray, prev_read: np.ndarray) -> np.ndarray:
    """f_t[i] = sum_j L_t[i, j] w^r_{t-1}[j]; one head: ``[N, N]``, ``[N]`` -> ``[N]``."""
    n = len(prev_read)
    return np.array([sum(link_matrix[i, j] * prev_read[j] for j in range(n)) for i in range(n)])


def backward_weights(link_matrix: np.ndarray, prev_read: np.ndarray) -> np.ndarray:
    """b_t[i] = sum_j L_t[j, i] w^r_{t-1}[j]; one head."""
    n = len(prev_read)
    return np.array([sum(link_matrix[j, i] * prev_read[j] for j in range(n)) for i in range(n)])


def read_weights(backward: np.ndarray, content: np.ndarray, forward: np.ndarray, modes: np.ndarray) -> np.ndarray:
    """w^r_t = pi[0] b_t + pi[1] c^r_t + pi[2] f_t; one head, ``modes`` ``[3]`` = (backward, content, forward)."""
    return modes[0] * backward + modes[1] * content + modes[2] * forward


def initial_state(n: int, w: int, r: int) -> dict[str, np.ndarray]:
    """Everything zero: M_0, L_0, p_0, w^r_0, w^w_0, u_0."""
    return {"memory": np.zeros((n, w)), "link": np.zeros((n, n)), "precedence": np.zeros(n),
            "read_weights": np.zeros((r, n)), "write_weights": np.zeros(n), "usage": np.zeros(n)}


def access_step(xi: dict[str, np.ndarray], state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One timestep: write (content or allocation), link, then read. Returns the new state and
    every intermediate, under the names of ``ntm.dnc.access.AccessStep``."""
    r = len(xi["free_gates"])
    m_prev = state["memory"]
    write_content = content_weights(m_prev, xi["write_key"], xi["write_strength"])
    psi = retention(xi["free_gates"], state["read_weights"])
    u = usage(state["usage"], state["write_weights"], psi)
    alloc = allocation(u)
    ww = write_weights(alloc, write_content, xi["allocation_gate"], xi["write_gate"])
    memory = write(m_prev, [ww], [xi["erase"]], [xi["write_vector"]])
    l_t = link(state["link"], state["precedence"], ww)
    p_t = precedence(state["precedence"], ww)
    fwd = np.array([forward_weights(l_t, state["read_weights"][i]) for i in range(r)])
    bwd = np.array([backward_weights(l_t, state["read_weights"][i]) for i in range(r)])
    rc = np.array([content_weights(memory, xi["read_keys"][i], xi["read_strengths"][i]) for i in range(r)])
    wr = np.array([read_weights(bwd[i], rc[i], fwd[i], xi["read_modes"][i]) for i in range(r)])
    reads = np.array([read(memory, wr[i]) for i in range(r)])
    return {"write_content": write_content, "retention": psi, "usage": u, "allocation": alloc,
            "write_weights": ww, "memory": memory, "link": l_t, "precedence": p_t, "forward": fwd,
            "backward": bwd, "read_content": rc, "read_weights": wr, "reads": reads}


def next_state(step: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: step[k] for k in ("memory", "link", "precedence", "read_weights", "write_weights", "usage")}
