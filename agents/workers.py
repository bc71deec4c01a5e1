"""Imports every module that registers a built-in worker skill."""
