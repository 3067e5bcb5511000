"""Fused CPU loops for token-choice routing, compiled by numba.

Written by hand because no library has them: PyTorch runs each step of routing, dispatch and
combine as its own whole-tensor pass (and pays a per-op cost that dominates at a few thousand
tokens), and no CPU MoE kernel library exists for this stack. Each loop below replaces a chain
of 3-10 PyTorch ops by one pass over the rows. They are only used for CPU float32 / float64
tensors; other devices and dtypes take the PyTorch-op path, which gives the same results
(tested in ``tests/models/moe/test_cpu_kernels.py``).

Every function works on numpy views of torch tensors (``tensor.numpy()`` shares memory) and
writes into arrays the caller allocated, so the caller owns dtypes and devices; callers check
:func:`usable` first. Index arrays are int64. Shapes: see router.py (``T`` tokens, ``E``
experts, ``K`` per token, ``D`` channels, ``A = T*K`` assignments, ``S`` kept rows).
"""
import logging
import os

import numpy as np
import torch
from mmengine.logging import print_log
from numba import njit

# FUSION_MOE_NUMBA=0 turns the loops off (every caller then takes its PyTorch-op path), e.g. to
# compare the two paths or to rule the loops out when debugging. Tests flip ENABLED directly.
ENABLED = os.environ.get('FUSION_MOE_NUMBA', '1') != '0'


def usable(*tensors: torch.Tensor) -> bool:
    """True when the loops below can run on these tensors: enabled, CPU, one dtype, float32 or
    float64."""
    dtype = tensors[0].dtype
    return (ENABLED and dtype in (torch.float32, torch.float64)
            and all(t.device.type == 'cpu' and t.dtype == dtype for t in tensors))


def compile_cached(**options):
    """``numba.njit(**options)`` with an on-disk cache: compiled once per machine into
    ``__pycache__`` (or numba's user cache directory when the package is read-only), loaded in
    milliseconds by later processes. Where no cache location is writable, numba refuses
    ``cache=True`` at import; the loops are then compiled in memory in every process, and the
    fallback is logged."""
    def decorate(fn):
        try:
            return njit(cache=True, **options)(fn)
        except RuntimeError as error:  # 'cannot cache function ...: no locator available ...'
            print_log(f'{error}; compiling {fn.__name__} in memory in each process',
                      logger='current', level=logging.WARNING)
            return njit(**options)(fn)
    return decorate


_jit = compile_cached(nogil=True, boundscheck=False)
# Reductions (dot products) may be reassociated, so that LLVM vectorises them, as BLAS does.
# NaN and inf keep their IEEE meaning (no 'nnan' / 'ninf').
_jit_reassoc = compile_cached(nogil=True, boundscheck=False,
                              fastmath={'reassoc', 'contract', 'nsz'})


@_jit
def shift_rows_top_k(logits_TE, top_k, shifted_TE, peak_T, experts_TK):
    """First half of a short-row softmax with top-k (the exponential runs in between, in
    PyTorch's vectorised ``exp_``: scalar ``exp`` calls here would cost 3x the whole loop).

    Per row: ``peak = max(logits)``, ``shifted = logits - peak`` and the top-k experts by logit
    (descending; ties go to the lower expert id, as ``torch.max`` does). Softmax is monotonic,
    so these are the top-k of the probabilities (up to probabilities that round to equal).
    """
    num_tokens, num_experts = logits_TE.shape
    for t in range(num_tokens):
        for k in range(top_k):
            best = -1
            for e in range(num_experts):
                taken = False
                for j in range(k):
                    if experts_TK[t, j] == e:
                        taken = True
                if not taken and (best < 0 or logits_TE[t, e] > logits_TE[t, best]):
                    best = e
            experts_TK[t, k] = best
        peak = logits_TE[t, experts_TK[t, 0]]
        peak_T[t] = peak
        for e in range(num_experts):
            shifted_TE[t, e] = logits_TE[t, e] - peak


@_jit
def normalize_rows_gather(exp_TE, experts_TK, total_T, gates_TK):
    """Second half: ``total = sum(exp)``, ``exp /= total`` in place (now the probabilities) and
    ``gates[t, k] = probs[t, experts[t, k]]``."""
    num_tokens, num_experts = exp_TE.shape
    top_k = experts_TK.shape[1]
    for t in range(num_tokens):
        total = exp_TE.dtype.type(0)
        for e in range(num_experts):
            total += exp_TE[t, e]
        for e in range(num_experts):
            exp_TE[t, e] = exp_TE[t, e] / total
        total_T[t] = total
        for k in range(top_k):
            gates_TK[t, k] = exp_TE[t, experts_TK[t, k]]


@_jit_reassoc
def softmax_top_k_backward(probs_TE, experts_TK, grad_probs_TE, has_grad_probs,
                           grad_lse_T, has_grad_lse, grad_gates_TK, has_grad_gates,
                           grad_logits_TE):
    """Gradient of the softmax-with-top-k (probabilities, logsumexp and gates; see
    :func:`shift_rows_top_k`) w.r.t. the logits, from whichever output gradients
    exist (the ``has_*`` flags; absent ones are ignored arrays):
    ``g_p = grad_probs + scatter(grad_gates)``, ``grad_logits = p * (g_p - <g_p, p> + g_lse)``.
    """
    num_tokens, num_experts = probs_TE.shape
    top_k = experts_TK.shape[1]
    for t in range(num_tokens):
        for e in range(num_experts):
            grad_logits_TE[t, e] = grad_probs_TE[t, e] if has_grad_probs else 0.0
        if has_grad_gates:
            for k in range(top_k):
                grad_logits_TE[t, experts_TK[t, k]] += grad_gates_TK[t, k]
        inner = probs_TE.dtype.type(0)
        for e in range(num_experts):
            inner += grad_logits_TE[t, e] * probs_TE[t, e]
        shift = grad_lse_T[t] - inner if has_grad_lse else -inner
        for e in range(num_experts):
            grad_logits_TE[t, e] = probs_TE[t, e] * (grad_logits_TE[t, e] + shift)


@_jit
def counting_sort(expert_ids_A, num_experts, counts_E1, order_A, inverse_A):
    """Stable counting sort of assignments by expert id in [0, E] (E = not dispatched).

    Writes counts_E1 (E+1,) per id, order_A (A,) assignment ids sorted by expert (ties in
    assignment order) and inverse_A (A,) each assignment's sorted row, with
    ``S = A - counts_E1[E]`` for the undispatched ones (they sort last).
    """
    num_assign = expert_ids_A.shape[0]
    for e in range(num_experts + 1):
        counts_E1[e] = 0
    for a in range(num_assign):
        e = expert_ids_A[a]
        if e < 0 or e > num_experts:  # bounds are not checked elsewhere: refuse bad ids
            raise ValueError('counting_sort: expert id outside [0, num_experts]')
        counts_E1[e] += 1
    starts = np.empty(num_experts + 1, np.int64)
    running = 0
    for e in range(num_experts + 1):
        starts[e] = running
        running += counts_E1[e]
    num_kept = num_assign - counts_E1[num_experts]
    for a in range(num_assign):
        e = expert_ids_A[a]
        row = starts[e]
        starts[e] = row + 1
        order_A[row] = a
        inverse_A[a] = row if e < num_experts else num_kept


@_jit
def combine_rows(rows_SD, gates_TK, inverse_TK, out_TD):
    """``out[t] = sum_k gate[t, k] * rows[inverse[t, k]]``; rows with index >= S count 0.

    With all gates 1 it is the K>1 dispatch backward (the sum of each token's K row gradients).
    """
    num_rows, channels = rows_SD.shape
    num_tokens, top_k = inverse_TK.shape
    for t in range(num_tokens):
        written = False
        for k in range(top_k):
            s = inverse_TK[t, k]
            if s >= num_rows:
                continue
            gate = gates_TK[t, k]
            if written:
                for d in range(channels):
                    out_TD[t, d] += gate * rows_SD[s, d]
            else:
                for d in range(channels):
                    out_TD[t, d] = gate * rows_SD[s, d]
                written = True
        if not written:
            for d in range(channels):
                out_TD[t, d] = 0.0


@_jit_reassoc
def combine_rows_backward(grad_TD, rows_SD, gates_TK, inverse_TK, grad_rows_SD, grad_gates_TK):
    """Backward of :func:`combine_rows` in one pass over tokens.

    ``grad_rows[s] = gate[t, k] * grad[t]`` and ``grad_gates[t, k] = <grad[t], rows[s]>`` for
    ``s = inverse[t, k]``; dropped assignments (s >= S) get a zero gate gradient. Pass a
    C-contiguous ``grad_TD``: a strided one (e.g. the stride-0 gradient of ``out.sum()``)
    works but is not vectorised, slower than a copy and the contiguous loop together.
    """
    num_rows, channels = rows_SD.shape
    num_tokens, top_k = inverse_TK.shape
    for t in range(num_tokens):
        for k in range(top_k):
            s = inverse_TK[t, k]
            if s >= num_rows:
                grad_gates_TK[t, k] = 0.0
                continue
            gate = gates_TK[t, k]
            dot = grad_gates_TK.dtype.type(0)
            for d in range(channels):
                g = grad_TD[t, d]
                dot += g * rows_SD[s, d]
                grad_rows_SD[s, d] = gate * g
            grad_gates_TK[t, k] = dot
