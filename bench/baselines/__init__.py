"""The peers the SignalR path is measured against, each a small server run as its own process.

Every server prints ``port=<n>`` on stdout once it listens on 127.0.0.1 and serves until its
stdin closes, like :mod:`bench.app_server`.
"""
