"""Deterministic generator of the synthetic demo town (示例数据) and its larger scales."""

from data.generator.core import GENERATOR_VERSION, generate

__all__ = ["GENERATOR_VERSION", "generate"]
