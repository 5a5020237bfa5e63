"""Asynchronous batch tasks of text-embedding-async-v1/v2 (``X-DashScope-Async``): limits, wire client, job."""
