"""Benchmarks: WebSocket library choice, raw WebSocket baseline, and the SignalR layers compared to it."""
