"""iot-attack-harness: a living meta-benchmark of ML-attack libraries for IoT systems."""

__version__ = "0.1.0"
