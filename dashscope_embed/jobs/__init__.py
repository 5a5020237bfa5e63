"""The jobs behind the ``dashscope-embed`` command, one module each, usable without the command line.

- ``sources``: stream rows out of JSONL, CSV or plain-text files.
- ``bulk``: resumable bulk embedding of a file into Parquet (``dashscope-embed embed``), built from
  ``chunks`` (rows in chunks, empty rows), ``journal`` (crash-safe result records), ``workdir`` (the work
  directory and what is finished), ``schedule`` (the real-time run), ``parquet`` (parts and the merge) and
  ``cost`` (the summary); ``dashscope_embed.batch`` reuses all but ``schedule`` for the Batch File API.
- ``metrics``: nDCG@k, Recall@k and MRR@k on ranked lists (framework-free).
- ``evaluate``: retrieval quality of a model on a judged set (``dashscope-embed eval``).
- ``demo``: retrieval over real documents with LlamaIndex and LangChain (``dashscope-embed demo``).
- ``connection``: where requests go (the real service, a given base URL, or the local service in-process).

The package needs ``pyarrow``, ``tqdm`` (the ``cli`` extra) and, for the demo, ``llama-index-core`` and
``langchain-core``; each module imports only what its job needs.
"""
