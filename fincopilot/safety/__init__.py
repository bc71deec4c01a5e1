"""Safety layer: desensitization for external backends, tamper-evident audit log, resilience."""
