"""NTM Explorer library: Neural Turing Machines (Graves, Wayne & Danihelka 2014), instrumented.

The library never imports Streamlit; the app draws from the traces it records.
"""
