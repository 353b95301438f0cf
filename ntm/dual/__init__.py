"""The dual-memory NTM: a short-term NTM (the library's controller, heads and memory) that also
reads and writes the long-term proposition graph (``ntm.longterm``).

    encode.py     frozen all-MiniLM-L6-v2 sentence embeddings, cached per text (memory and disk)
    model.py      DualConfig, DualNTM: the long-term read head (content addressing through the
                  store's nearest-neighbour query, then relations followed forward and backward)
    writer.py     the long-term write path: propositions, predicted relations and training logs
                  after a batch (every N batches, above a confidence); episodes on copy tasks
    nli_eval.py   accuracy, per-label accuracy and the majority class on an NLI file

Nothing is imported here, so importing one part does not load the others.
"""

GRAPH_FILE = "graph.json"      # a dual preset's long-term graph export, beside its weights
