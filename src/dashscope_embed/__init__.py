"""dashscope-embed core: DashScope (Alibaba Cloud Model Studio) embeddings, framework-free."""
__version__ = "0.1.0"
