"""Search strategies: pure objects that propose the next focus position and observe scores.

No I/O, threads or UI: the same strategy runs on a replayed stack and on live hardware.
``peak`` holds the peak fit that every strategy and plane selection end with.
"""
